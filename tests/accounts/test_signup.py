import re

import pytest
from django.urls import reverse

from accounts.models import Customer, User
from accounts.services import SignupConflict, customer_signup
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

    html = response.content.decode()
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
    assert "Please enter a correct username and password" in response.content.decode()


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
