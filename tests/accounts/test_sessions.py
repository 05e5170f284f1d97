"""Sessions: a new key at every login (no session fixation), and nothing left of one after logout."""

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.backends.cached_db import SessionStore
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.accounts.helpers import cart_of, put_in_cart
from tests.factories import ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # tests.factories.UserFactory's
LOGINS = {"shop": reverse("accounts:login"), "admin": reverse("admin:login")}


def _session_key(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def _visit_with_a_session(client: Client) -> str:
    """Give the client a session before it logs in, as a visitor with a cart has; return its key."""
    put_in_cart(client, {ProductFactory().pk: 1})
    return _session_key(client)


@pytest.mark.parametrize("site", LOGINS)
def test_login_gives_a_new_session_key_and_drops_the_old_one(client, site):
    UserFactory(username="staffer", is_staff=True)
    before = _visit_with_a_session(client)

    response = client.post(LOGINS[site], {"username": "staffer", "password": PASSWORD})

    assert response.status_code == 302
    after = _session_key(client)
    assert after != before
    assert not SessionStore().exists(before)


def test_signup_gives_a_new_session_key(client):
    before = _visit_with_a_session(client)
    password = "plum-orchard-42-lantern"

    client.post(
        reverse("accounts:signup"),
        {
            "username": "grace",
            "name": "Grace",
            "email": "g@example.com",
            "password1": password,
            "password2": password,
        },
    )

    assert _session_key(client) != before
    assert client.session["_auth_user_id"] == str(User.objects.get(username="grace").pk)


def test_a_session_key_planted_before_login_is_not_logged_in_after(client):
    # The attacker's fixation: they know the victim's pre-login key and wait for the victim to log in.
    UserFactory(username="victim")
    planted = _visit_with_a_session(client)
    client.post(LOGINS["shop"], {"username": "victim", "password": PASSWORD})
    attacker = Client()
    attacker.cookies[settings.SESSION_COOKIE_NAME] = planted

    response = attacker.get(reverse("accounts:orders"))

    assert response.status_code == 302
    assert response["Location"].startswith(LOGINS["shop"])


def test_a_logged_out_session_cookie_no_longer_works(client):
    UserFactory(username="leaver")
    client.post(LOGINS["shop"], {"username": "leaver", "password": PASSWORD})
    stolen = _session_key(client)
    assert client.get(reverse("accounts:orders")).status_code == 200

    client.post(reverse("accounts:logout"))
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = stolen
    response = replay.get(reverse("accounts:orders"))

    assert response.status_code == 302
    assert response["Location"].startswith(LOGINS["shop"])
    assert not SessionStore().exists(stolen)  # gone from PostgreSQL
    assert (
        caches[settings.SESSION_CACHE_ALIAS].get(SessionStore.cache_key_prefix + stolen) is None
    )  # and Redis


def test_logout_empties_the_cart_of_the_session_that_logged_out(client):
    # The cart belongs to the session: after logout, the next person at this browser starts empty.
    UserFactory(username="shopper")
    client.post(LOGINS["shop"], {"username": "shopper", "password": PASSWORD})
    put_in_cart(client, {ProductFactory().pk: 2})

    client.post(reverse("accounts:logout"))

    assert cart_of(client) == {}


# --- Password validators ------------------------------------------------------------------------


def test_all_four_password_validators_are_on():
    names = [validator["NAME"].rsplit(".", 1)[1] for validator in settings.AUTH_PASSWORD_VALIDATORS]

    assert names == [
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    ]
    with pytest.raises(ValidationError):
        validate_password("2short")


@pytest.mark.parametrize("weak", ["2short", "qwerty123", "iloveyou", "73019461"])
def test_signup_refuses_a_weak_password(client, weak):
    response = client.post(
        reverse("accounts:signup"),
        {
            "username": "weak",
            "name": "Weak",
            "email": "weak@example.com",
            "password1": weak,
            "password2": weak,
        },
    )

    assert response.status_code == 200
    assert "password2" in response.context["form"].errors
    assert not User.objects.filter(username="weak").exists()
