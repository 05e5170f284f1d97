import re
import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from accounts.emails import email_normalise
from accounts.models import Customer, User
from accounts.services import CustomerEmailUnusable, SignupConflict, customer_for_user, customer_signup
from tests.accounts.helpers import cart_of, put_in_cart
from tests.factories import CustomerFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

SIGNUP = reverse("accounts:signup")
LOGIN = reverse("accounts:login")
LOGOUT = reverse("accounts:logout")
PASSWORD = "plum-orchard-42-lantern"


def _signup_data(**changes) -> dict:
    data = {
        "username": "grace",
        "name": "Grace Hopper",
        "email": "grace@example.com",
        "password1": PASSWORD,
        "password2": PASSWORD,
    }
    return data | changes


def _inputs_without_label(html: str) -> set[str]:
    """Return the ids of visible inputs that no <label for=...> names."""
    inputs = set(re.findall(r'<input(?![^>]*type="hidden")[^>]*id="([^"]+)"', html))
    labels = set(re.findall(r'<label[^>]*for="([^"]+)"', html))
    return inputs - labels


# --- Sign-up ----------------------------------------------------------------------------------


def test_signup_page_labels_every_input(client):
    response = client.get(SIGNUP)

    page = response.content.decode()
    html = page.split('<main id="main"', 1)[1]  # the form, not the header's search box
    assert response.status_code == 200
    assert re.findall(r'<input(?![^>]*type="hidden")[^>]*name="([^"]+)"', html) == [
        "username",
        "name",
        "email",
        "password1",
        "password2",
    ]
    assert _inputs_without_label(html) == set()


def test_signup_creates_the_user_and_the_customer_and_logs_in(client):
    response = client.post(SIGNUP, _signup_data())

    assert response.status_code == 303
    assert response["Location"] == reverse("catalog:home")
    user = User.objects.get(username="grace")
    assert user.check_password(PASSWORD)
    assert user.email == "grace@example.com"
    customer = Customer.objects.get(user=user)
    assert (customer.name, customer.email) == ("Grace Hopper", "grace@example.com")
    assert client.session["_auth_user_id"] == str(user.pk)


def test_signup_keeps_the_cart(client):
    product = ProductFactory()
    put_in_cart(client, {product.pk: 2})

    client.post(SIGNUP, _signup_data())

    assert cart_of(client) == {str(product.pk): 2}


@pytest.mark.parametrize("email", ["taken@example.com", "TAKEN@example.com", "Taken@Example.Com"])
def test_signup_with_a_customers_email_in_any_case_is_a_form_error(client, email):
    CustomerFactory(email="taken@example.com")

    response = client.post(SIGNUP, _signup_data(email=email))

    assert response.status_code == 200
    assert response.context["form"].errors["email"] == ["An account with this email already exists."]
    assert "An account with this email already exists." in response.content.decode()
    assert not User.objects.filter(username="grace").exists()
    assert Customer.objects.count() == 1


def test_signup_with_a_taken_username_in_any_case_is_a_form_error(client):
    UserFactory(username="grace")

    response = client.post(SIGNUP, _signup_data(username="GRACE"))

    assert "username" in response.context["form"].errors
    assert not Customer.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"password2": "something-else-entirely"}, "password2"),
        ({"password1": "password", "password2": "password"}, "password2"),
        ({"password1": "12345678901", "password2": "12345678901"}, "password2"),
        ({"password1": "grace-hopper", "password2": "grace-hopper"}, "password2"),
        ({"email": "not-an-email"}, "email"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"username": "a b"}, "username"),
        ({"name": "Grace\x00"}, "name"),
    ],
    ids=[
        "mismatch",
        "common",
        "numeric",
        "like-the-name",
        "email",
        "blank-name",
        "long-name",
        "bad-username",
        "nul",
    ],
)
def test_signup_with_bad_input_shows_the_error_next_to_the_field_and_creates_nothing(client, changes, field):
    response = client.post(SIGNUP, _signup_data(**changes))

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert f'id="id_{field}_error"' in response.content.decode()
    assert not User.objects.exists()
    assert not Customer.objects.exists()


def test_customer_signup_reports_an_email_taken_meanwhile_and_leaves_no_user():
    # The form checked the email; another sign-up with it committed before this one.
    CustomerFactory(email="race@example.com")

    with pytest.raises(SignupConflict) as raised:
        customer_signup(username="late", name="Late", email="RACE@example.com", password=PASSWORD)

    assert raised.value.field == "email"
    assert not User.objects.filter(username="late").exists()


def test_customer_signup_reports_a_username_taken_meanwhile():
    UserFactory(username="early")

    with pytest.raises(SignupConflict) as raised:
        customer_signup(username="early", name="Early", email="early@example.com", password=PASSWORD)

    assert raised.value.field == "username"
    assert not Customer.objects.exists()


# --- Log in and out ---------------------------------------------------------------------------


def test_login_page_labels_every_input(client):
    response = client.get(LOGIN)

    assert response.status_code == 200
    assert _inputs_without_label(response.content.decode()) == set()


def test_login_goes_on_to_next_and_keeps_the_cart(client):
    user = UserFactory()
    product = ProductFactory()
    put_in_cart(client, {product.pk: 1})

    response = client.post(
        LOGIN,
        {"username": user.username, "password": "correct horse battery", "next": reverse("accounts:orders")},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:orders")
    assert client.session["_auth_user_id"] == str(user.pk)
    assert cart_of(client) == {str(product.pk): 1}


def test_login_with_a_wrong_password_says_so(client):
    user = UserFactory()

    response = client.post(LOGIN, {"username": user.username, "password": "wrong"})

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert "Please enter a correct username or email and password" in response.content.decode()


def test_logout_by_get_is_refused(client):
    user = UserFactory()
    client.force_login(user)

    response = client.get(LOGOUT)

    assert response.status_code == 405
    assert client.session["_auth_user_id"] == str(user.pk)


def test_logout_by_post_logs_out(client):
    client.force_login(UserFactory())

    response = client.post(LOGOUT)

    assert response.status_code == 302
    assert response["Location"] == reverse("catalog:home")
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    "next_url",
    ["/account/login/", "/account/login/?next=/account/login/", "//testserver/account/login/"],
)
def test_a_logged_in_customer_sent_to_the_login_page_itself_goes_home_not_to_a_500(client, next_url):
    client.force_login(UserFactory())

    response = client.get(LOGIN, {"next": next_url})

    assert response.status_code == 302
    assert response["Location"] == reverse("catalog:home")


def test_a_logged_in_customer_with_another_next_still_goes_there(client):
    client.force_login(UserFactory())

    response = client.get(LOGIN, {"next": reverse("accounts:orders")})

    assert response["Location"] == reverse("accounts:orders")


# --- One mailbox, one customer: addresses compared after Unicode normalisation ----------------------

FULLWIDTH_EXAMPLE = "ｅｘａｍｐｌｅ.com"  # noqa: RUF001 - the look-alike is the point


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        (f"ada@{FULLWIDTH_EXAMPLE}", "ada@example.com"),
        ("ａｄａ@example.com", "ada@example.com"),  # noqa: RUF001
        ("Ada.Lovelace@EXAMPLE.COM", "Ada.Lovelace@example.com"),
        ("  ada@Example.com ", "ada@example.com"),
        ("ada＠example.com", "ada@example.com"),  # noqa: RUF001 - a fullwidth at sign
    ],
)
def test_email_normalise_folds_unicode_forms_and_the_domains_case(typed, stored):
    assert email_normalise(typed) == stored


@given(st.text(max_size=40))
def test_email_normalise_is_idempotent(email):
    assert email_normalise(email_normalise(email)) == email_normalise(email)


@pytest.mark.parametrize("email", [f"ada@{FULLWIDTH_EXAMPLE}", f"ADA@{FULLWIDTH_EXAMPLE.upper()}"])
def test_signup_with_a_unicode_variant_of_a_customers_email_is_a_form_error(client, email):
    CustomerFactory(email="ada@example.com")

    response = client.post(SIGNUP, _signup_data(email=email))

    assert response.status_code == 200
    assert response.context["form"].errors["email"] == ["An account with this email already exists."]
    assert Customer.objects.count() == 1


def test_signup_stores_the_normalised_email_on_the_customer_and_the_user(client):
    response = client.post(SIGNUP, _signup_data(email=f"Grace@{FULLWIDTH_EXAMPLE}"))

    assert response.status_code == 303
    customer = Customer.objects.get()
    assert (customer.email, customer.user.email) == ("Grace@example.com", "Grace@example.com")


def test_customer_signup_with_a_unicode_variant_is_refused_by_the_database():
    # No form in front: the normalised address meets customer_email_unique_ci.
    CustomerFactory(email="ada@example.com")

    with pytest.raises(SignupConflict) as raised:
        customer_signup(username="ada2", name="Ada", email=f"ADA@{FULLWIDTH_EXAMPLE}", password=PASSWORD)

    assert raised.value.field == "email"


def test_a_user_whose_email_is_a_unicode_variant_of_a_customers_gets_no_customer_of_its_own():
    CustomerFactory(email="ada@example.com")
    user = UserFactory(email=f"ada@{FULLWIDTH_EXAMPLE}")

    with pytest.raises(CustomerEmailUnusable):
        customer_for_user(user=user)

    assert Customer.objects.count() == 1


def _customer_form(**changes) -> dict:
    form = {"name": "Grace", "level": "bronze", "is_active": "on", "created_0": "2024-01-01"}
    return form | {"created_1": "0:00"} | changes


def test_admin_customer_form_refuses_a_unicode_variant_of_a_customers_email(admin_client):
    CustomerFactory(email="ada@example.com")

    response = admin_client.post(
        reverse("admin:accounts_customer_add"), _customer_form(email=f"ada@{FULLWIDTH_EXAMPLE}")
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"email": ["Another customer has this email."]}
    assert Customer.objects.count() == 1


def test_admin_customer_form_saves_a_customer_with_its_own_email_unchanged(admin_client):
    customer = CustomerFactory(email="ada@example.com", name="Ada")
    form = _customer_form(email="ADA@example.com", name="Ada Lovelace")

    response = admin_client.post(reverse("admin:accounts_customer_change", args=[customer.pk]), form)

    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.name, customer.email) == ("Ada Lovelace", "ADA@example.com")


def test_admin_customer_form_stores_the_normalised_email(admin_client):
    response = admin_client.post(
        reverse("admin:accounts_customer_add"), _customer_form(email=f"Grace@{FULLWIDTH_EXAMPLE}")
    )

    assert response.status_code == 302
    assert Customer.objects.get().email == "Grace@example.com"


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_sign_up_racing_another_with_a_unicode_variant_of_its_email_is_refused_by_the_constraint():
    # The first sign-up has written its customer but not committed: the second one's form finds no
    # customer with the address, and its INSERT waits on the unique index for the first to finish.
    inserted, finish = threading.Event(), threading.Event()
    second = {}

    def first_sign_up() -> None:
        try:
            with transaction.atomic():
                customer_signup(username="ada1", name="Ada", email="ada@example.com", password=PASSWORD)
                inserted.set()
                finish.wait(timeout=10)
        finally:
            connections.close_all()

    def second_sign_up() -> None:
        try:
            data = _signup_data(username="ada2", email=f"ADA@{FULLWIDTH_EXAMPLE}")
            second["response"] = Client().post(SIGNUP, data)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first_sign_up), threading.Thread(target=second_sign_up)]
    threads[0].start()
    assert inserted.wait(timeout=10)
    threads[1].start()
    _wait_for_a_lock_wait()
    finish.set()
    for thread in threads:
        thread.join(timeout=10)

    response = second["response"]
    assert response.status_code == 200
    assert response.context["form"].errors["email"] == [
        "This was just taken by another account: choose another."
    ]
    assert list(Customer.objects.values_list("email", flat=True)) == ["ada@example.com"]
    assert list(User.objects.values_list("username", flat=True)) == ["ada1"]


def _wait_for_a_lock_wait(timeout: float = 10.0) -> None:
    """Return once a session of this database waits for a lock; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            if time.monotonic() >= deadline:
                pytest.fail(f"no sign-up waited for another within {timeout} s")
            time.sleep(0.01)  # a poll interval, bounded by the deadline above
