"""Login throttling (django-axes): five wrong passwords for one username from one address lock that
pair out for 15 minutes, on the shop's login and the admin's alike, with Redis up or down."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # tests.factories.UserFactory's
LOGINS = {"shop": reverse("accounts:login"), "admin": reverse("admin:login")}


def _log_in(client: Client, url: str, username: str, password: str, *, address: str = "192.0.2.1"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address)


def _fail(client: Client, url: str, username: str, times: int, *, address: str = "192.0.2.1") -> list[int]:
    return [_log_in(client, url, username, "wrong", address=address).status_code for _ in range(times)]


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def staffer():
    return UserFactory(username="staffer", is_staff=True)


def test_throttling_settings_are_the_ones_promised():
    assert settings.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"
    assert settings.AXES_HANDLER == "axes.handlers.database.AxesDatabaseHandler"  # PostgreSQL, not Redis
    assert settings.AXES_FAILURE_LIMIT == 5
    assert timedelta(minutes=15) == settings.AXES_COOLOFF_TIME
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]
    middleware = settings.MIDDLEWARE
    # After sessions and auth: it reads the login's user name and turns a refusal into the 429 page.
    assert middleware.index("axes.middleware.AxesMiddleware") > middleware.index(
        "django.contrib.auth.middleware.AuthenticationMiddleware"
    )


@pytest.mark.parametrize("site", LOGINS)
def test_five_wrong_passwords_then_the_right_one_is_refused_with_429(client, staffer, site):
    statuses = _fail(client, LOGINS[site], "staffer", 5)

    response = _log_in(client, LOGINS[site], "staffer", PASSWORD)

    assert statuses == [200, 200, 200, 200, 429]
    assert response.status_code == 429
    assert not _logged_in(client)
    assert "Too many login attempts" in response.content.decode()
    assert "paused for 15 minutes" in response.content.decode()


@pytest.mark.parametrize("site", LOGINS)
def test_four_wrong_passwords_do_not_lock_out(client, staffer, site):
    _fail(client, LOGINS[site], "staffer", 4)

    response = _log_in(client, LOGINS[site], "staffer", PASSWORD)

    assert response.status_code == 302
    assert _logged_in(client)


def test_the_shop_and_the_admin_count_failures_together(client, staffer):
    _fail(client, LOGINS["shop"], "staffer", 3)
    _fail(client, LOGINS["admin"], "staffer", 2)

    assert _log_in(client, LOGINS["admin"], "staffer", PASSWORD).status_code == 429
    assert _log_in(client, LOGINS["shop"], "staffer", PASSWORD).status_code == 429


def test_another_user_from_the_same_address_is_not_locked_out(client, staffer):
    UserFactory(username="colleague")
    _fail(client, LOGINS["shop"], "staffer", 5)

    response = _log_in(Client(), LOGINS["shop"], "colleague", PASSWORD)

    assert response.status_code == 302


def test_the_same_user_from_another_address_is_not_locked_out(client, staffer):
    _fail(client, LOGINS["shop"], "staffer", 5)

    response = _log_in(Client(), LOGINS["shop"], "staffer", PASSWORD, address="198.51.100.7")

    assert response.status_code == 302


def test_the_lockout_ends_after_the_cool_off(client, staffer):
    _fail(client, LOGINS["shop"], "staffer", 5)
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16)
    )

    response = _log_in(client, LOGINS["shop"], "staffer", PASSWORD)

    assert response.status_code == 302
    assert _logged_in(client)


def test_a_good_login_forgets_the_failures_before_it(client, staffer):
    _fail(client, LOGINS["shop"], "staffer", 4)
    assert _log_in(client, LOGINS["shop"], "staffer", PASSWORD).status_code == 302
    client.post(reverse("accounts:logout"))

    statuses = _fail(client, LOGINS["shop"], "staffer", 4)

    assert statuses == [200, 200, 200, 200]


@pytest.mark.parametrize("site", LOGINS)
def test_throttling_works_with_redis_unreachable(client, staffer, settings, site):
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"},  # nothing listens
    }

    statuses = _fail(client, LOGINS[site], "staffer", 5)
    locked = _log_in(client, LOGINS[site], "staffer", PASSWORD)
    other = _log_in(Client(), LOGINS[site], "staffer", PASSWORD, address="198.51.100.7")

    assert statuses == [200, 200, 200, 200, 429]
    assert locked.status_code == 429
    assert other.status_code == 302  # and logging in still works: the session is in PostgreSQL too


def test_a_10000_character_username_is_an_ordinary_failure(client):
    # axes stores the username in a 255-character column: accounts.throttling cuts it to a username's length.
    response = _log_in(client, LOGINS["shop"], "x" * 10_000, "wrong")

    assert response.status_code == 200
    assert AccessAttempt.objects.get().username == "x" * 150
