"""Logging in with a username or with the customer's email, in any case or Unicode form, as
accounts/emails.py compares emails (throttling of both forms: tests/accounts/test_login_throttling.py)."""

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

from accounts.backends import CustomerEmailBackend
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # UserFactory's
LOGIN = reverse("accounts:login")


@pytest.fixture
def ada():
    user = UserFactory(username="ada", email="Ada.Lovelace@example.com")
    CustomerFactory(user=user, email=user.email)
    return user


def _log_in(username: str, password: str = PASSWORD) -> Client:
    client = Client()
    client.post(LOGIN, {"username": username, "password": password})
    return client


@pytest.mark.parametrize(
    "typed",
    [
        "ada",
        "Ada.Lovelace@example.com",
        "ada.lovelace@EXAMPLE.COM",
        "Ada.Lovelace@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com",  # "example" in fullwidth
        " Ada.Lovelace@example.com ",
    ],
)
def test_a_customer_logs_in_with_the_username_or_the_email(ada, typed):
    assert _log_in(typed).session.get(SESSION_KEY) == str(ada.pk)


@pytest.mark.parametrize("typed", ["ada.lovelace@example.com", "ADA"])
def test_a_wrong_password_or_a_username_in_another_case_logs_no_one_in(ada, typed):
    client = Client()
    response = client.post(LOGIN, {"username": typed, "password": "wrong" if "@" in typed else PASSWORD})

    assert response.status_code == 200
    assert "Please enter a correct username or email and password." in response.content.decode()
    assert SESSION_KEY not in client.session


def test_the_login_form_says_the_email_works_too(client):
    page = client.get(LOGIN).content.decode()

    assert "Username or email" in page
    assert 'maxlength="254"' in page


def test_a_staff_users_own_email_is_no_login_only_a_customers_is(ada):
    staff = UserFactory(username="boss", email="boss@example.com", is_staff=True)

    assert _log_in("boss@example.com").session.get(SESSION_KEY) is None
    assert _log_in("boss").session.get(SESSION_KEY) == str(staff.pk)


def test_an_inactive_user_does_not_log_in_by_email(ada):
    ada.is_active = False
    ada.save()

    assert _log_in("ada.lovelace@example.com").session.get(SESSION_KEY) is None


def test_a_customer_without_a_login_is_no_one_to_log_in_as():
    CustomerFactory(email="walk-in@example.com", user=None)

    assert CustomerEmailBackend().authenticate(None, username="walk-in@example.com", password="") is None


def test_the_backend_answers_only_for_an_email(ada):
    backend = CustomerEmailBackend()

    assert backend.authenticate(None, username="ada", password=PASSWORD) is None
    assert backend.authenticate(None, username="ada.lovelace@example.com", password=PASSWORD) == ada


def test_signing_up_with_an_at_in_the_username_is_a_form_error(client):
    password = "plum-orchard-42-lantern"
    response = client.post(
        reverse("accounts:signup"),
        {
            "username": "ada@example.com",
            "name": "Ada",
            "email": "ada@example.com",
            "password1": password,
            "password2": password,
        },
    )

    assert response.status_code == 200
    assert "Choose a username without @" in response.content.decode()
