"""Passwords: changing one's own (Django's view), and resetting a forgotten one through an emailed
link, on a page that tells no one whether an account has the address typed."""

import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # UserFactory's
NEW_PASSWORD = "plum-orchard-42-lantern"
RESET = reverse("accounts:password_reset")
CHANGE = reverse("accounts:password_change")


@pytest.fixture
def ada():
    user = UserFactory(username="ada", email="Ada.Lovelace@example.com")
    CustomerFactory(user=user, email=user.email, name="Ada Lovelace")
    return user


def _link(email) -> str:
    """Return the reset link's path, from the email's text."""
    return re.search(r"http://testserver(/account/password/reset/\S+/)", email.body)[1]


# --- Forgotten: the reset --------------------------------------------------------------------------


def test_the_login_page_offers_to_reset_a_forgotten_password(client):
    page = client.get(reverse("accounts:login")).content.decode()

    assert f'<a href="{RESET}">Forgot your password?</a>' in page


def test_a_reset_emails_a_link_that_sets_a_new_password(client, ada):
    response = client.post(RESET, {"email": "ada.lovelace@EXAMPLE.com"})  # any case

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_reset_done")
    (email,) = mail.outbox
    assert email.to == ["Ada.Lovelace@example.com"]
    assert email.subject == "Choose a new password for shopsite"
    assert "the shopsite account ada" in email.body
    ((html, kind),) = email.alternatives
    assert kind == "text/html"
    assert _link(email) in html

    form = client.get(_link(email), follow=True)  # Django moves the token into the session first
    assert "Choose a new password" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )

    assert done["Location"] == reverse("accounts:password_reset_complete")
    assert User.objects.get(pk=ada.pk).check_password(NEW_PASSWORD)
    again = Client().get(_link(email))
    assert "This link does not work" in again.content.decode()  # once only


def test_the_address_is_compared_as_the_shop_stores_it(client, ada):
    fullwidth = "Ada.Lovelace@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com"  # "example" in fullwidth

    client.post(RESET, {"email": fullwidth})

    assert [email.to for email in mail.outbox] == [["Ada.Lovelace@example.com"]]


def test_a_reset_for_an_unknown_address_looks_the_same_and_sends_nothing(client, ada):
    known = Client().post(RESET, {"email": "ada.lovelace@example.com"}, follow=True)
    mail.outbox.clear()

    unknown = client.post(RESET, {"email": "nobody@example.com"}, follow=True)

    assert mail.outbox == []
    assert unknown.redirect_chain == known.redirect_chain
    assert unknown.content == known.content


def test_an_inactive_account_gets_no_reset(client, ada):
    User.objects.filter(pk=ada.pk).update(is_active=False)

    client.post(RESET, {"email": ada.email})

    assert mail.outbox == []


@pytest.mark.parametrize("email", ["", "not an address", "a@" + "b" * 300 + ".com", "x\x00@example.com"])
def test_a_reset_of_no_address_is_a_form_error(client, email):
    response = client.post(RESET, {"email": email})

    assert response.status_code == 200
    assert response.context["form"].errors
    assert mail.outbox == []


@pytest.mark.parametrize("n", [1, 20])
def test_asking_for_a_reset_runs_the_same_queries_whoever_has_accounts(
    client, ada, django_assert_num_queries, n
):
    UserFactory.create_batch(n)

    # the users with that address (the session is not touched: the visitor has none)
    with django_assert_num_queries(1):
        client.post(RESET, {"email": ada.email})

    assert len(mail.outbox) == 1


# --- Known: the change ------------------------------------------------------------------------------


@pytest.fixture
def ada_client(client, ada):
    client.force_login(ada)
    return client


def test_a_customer_changes_their_password_and_stays_logged_in(ada_client, ada):
    response = ada_client.post(
        CHANGE, {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_change_done")
    assert User.objects.get(pk=ada.pk).check_password(NEW_PASSWORD)
    assert ada_client.session[SESSION_KEY] == str(ada.pk)
    assert ada_client.get(reverse("accounts:account")).status_code == 200


@pytest.mark.parametrize(
    ("form", "error"),
    [
        (
            {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
            "incorrectly",
        ),
        (
            {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": "other"},
            "didn\u2019t match",
        ),
        ({"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"}, "too common"),
    ],
)
def test_a_wrong_password_change_is_a_form_error(ada_client, ada, form, error):
    response = ada_client.post(CHANGE, form)

    assert response.status_code == 200
    assert error in response.content.decode()
    assert User.objects.get(pk=ada.pk).check_password(PASSWORD)


@pytest.mark.parametrize("n", [1, 20])
def test_the_password_page_runs_the_same_queries_whoever_has_accounts(
    ada_client, django_assert_num_queries, n
):
    UserFactory.create_batch(n)

    # the user (the session comes from Redis)
    with django_assert_num_queries(1):
        assert ada_client.get(CHANGE).status_code == 200
