"""Every form of the shop and of the reports gets hostile input and answers it without a 500.

Keys and values come from tests/strategies.py: the forms' own names, ORM-looking keys (`__`,
`_connector`, `customer__user__password__startswith`, ...), NUL bytes, quotes, 10,000-character
keys and values. Expected answers: 200 (a form shown again with its errors), 302/303 (done, or
sent on), 400 (refused input), 404; and where that is the right answer, 429 (login throttling).
Redirects never leave the site.
"""

from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zeal import zeal_context

from accounts.cart import MAX_QUANTITY
from accounts.models import Customer, Order, OrderItem, User
from catalog.models import Product
from reports.services import reports_refresh
from tests.accounts.helpers import cart_of, checkout_form, put_in_cart
from tests.conftest import fuzz_examples
from tests.factories import (
    AddressFactory,
    CategoryFactory,
    CustomerFactory,
    OrderFactory,
    ProductFactory,
    UserFactory,
)
from tests.reports.helpers import make_sales
from tests.strategies import HOSTILE_VALUES, form_body, hostile_fields

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=fuzz_examples(80),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PASSWORD = "correct horse battery"  # tests.factories.UserFactory's


def post(client: Client, url: str, fields: list[tuple[str, str]]):
    return client.post(url, form_body(fields), content_type="application/x-www-form-urlencoded")


def assert_stays_on_site(response) -> None:
    if response.status_code in {301, 302, 303}:
        location = response["Location"]
        # Relative URLs only; browsers read "/\\host" and "\\host" as "//host".
        assert not urlsplit(location).scheme, location
        assert not urlsplit(location).netloc, location
        assert not location.replace("\\", "/").startswith("//"), location


# --- The cart -----------------------------------------------------------------------------------


@pytest.fixture
def shop_products():
    category = CategoryFactory()
    return ProductFactory(category=category, stock=1000), ProductFactory(category=category, is_active=False)


@FUZZ
@given(
    url=st.sampled_from(["accounts:cart_add", "accounts:cart_update", "accounts:cart_remove"]),
    fields=hostile_fields("product_id", "quantity", "next"),
    aim=st.booleans(),
)
def test_cart_forms_refuse_hostile_input_with_a_400(client, shop_products, url, fields, aim):
    product, _ = shop_products
    put_in_cart(client, {product.pk: 1})
    if aim:  # half the time at a real product, so the valid paths run too
        fields = [("product_id", str(product.pk)), *fields]

    response = post(client, reverse(url), fields)

    assert response.status_code in {303, 400}
    assert_stays_on_site(response)
    assert set(cart_of(client)) <= {str(product.pk)}
    assert all(1 <= quantity <= MAX_QUANTITY for quantity in cart_of(client).values())


# --- Sign-up and log-in ---------------------------------------------------------------------------

SIGNUP_FIELDS = ("username", "name", "email", "password1", "password2")


@FUZZ
@given(fields=hostile_fields(*SIGNUP_FIELDS), complete=st.booleans())
def test_signup_answers_hostile_input_with_its_form_or_creates_one_account(fields, complete):
    if complete:  # a valid form with hostile extras or overrides after it: the last value wins
        password = "plum-orchard-42-lantern"
        valid = {"username": "fuzzy", "name": "Fuzzy", "email": "fuzzy@example.com"}
        fields = [*valid.items(), ("password1", password), ("password2", password), *fields]
    users_before = User.objects.count()

    response = post(Client(), reverse("accounts:signup"), fields)

    assert response.status_code in {200, 303}
    assert_stays_on_site(response)
    created = User.objects.count() - users_before
    assert created == (1 if response.status_code == 303 else 0)
    assert Customer.objects.filter(user__isnull=False).count() == User.objects.count()
    User.objects.all().delete()  # each example signs up on an empty shop
    Customer.objects.all().delete()


@pytest.fixture
def customer(delivery_options):
    customer = CustomerFactory(user=UserFactory())
    AddressFactory(customer=customer)
    return customer


@pytest.fixture
def customer_client(client, customer):
    client.force_login(customer.user)
    return client


@pytest.fixture
def staff_user():
    return UserFactory(username="staffer", is_staff=True)


@FUZZ
@given(
    url=st.sampled_from(["accounts:login", "admin:login"]),
    fields=hostile_fields("username", "password", "next"),
    real=st.sampled_from(["none", "username", "both"]),
)
def test_login_forms_answer_hostile_input_without_a_500(staff_user, url, fields, real):
    if real != "none":  # aim at the real account, so wrong passwords and lockouts are reached too
        fields = [("username", staff_user.username), *fields]
    if real == "both":
        fields = [*fields, ("username", staff_user.username), ("password", PASSWORD)]
    client = Client()

    response = post(client, reverse(url), fields)

    # 429: five wrong passwords for one username from one address lock it out (django-axes).
    assert response.status_code in {200, 302, 429}
    assert_stays_on_site(response)
    logged_in = client.session.get("_auth_user_id")
    assert (response.status_code == 302) == (logged_in == str(staff_user.pk))


# --- Checkout -------------------------------------------------------------------------------------


@FUZZ
@given(fields=hostile_fields("product_id", "quantity", "total", "price", "customer", "customer_id"))
def test_checkout_ignores_posted_fields_and_sells_only_the_cart(
    customer_client, customer, shop_products, fields
):
    product, _ = shop_products
    put_in_cart(customer_client, {product.pk: 2})
    stock = Product.objects.filter(pk=product.pk).values_list("stock", flat=True)
    orders = Order.objects.filter(customer=customer).values_list("pk", flat=True)
    # A fresh N+1 detector per example: the same read once in each example is no N+1.
    with zeal_context():
        stock_before, orders_before = stock.get(), set(orders.all())
        place_order = list(checkout_form(customer_client).items())  # "Place order" clicked

        response = post(customer_client, reverse("accounts:checkout"), [*fields, *place_order])

        assert response.status_code == 303
        assert_stays_on_site(response)
        (new_order,) = set(orders.all()) - orders_before
        lines = OrderItem.objects.filter(order_id=new_order).values_list("product_id", "quantity")
        assert list(lines) == [(product.pk, 2)]
        assert stock.get() == stock_before - 2
        assert not Order.objects.exclude(customer=customer).exists()


@FUZZ
@given(fields=hostile_fields("confirmation"))
def test_checkout_without_its_own_confirmation_places_nothing_and_shows_the_page_again(
    customer_client, customer, shop_products, fields
):
    product, _ = shop_products
    put_in_cart(customer_client, {product.pk: 2})
    with zeal_context():
        response = post(customer_client, reverse("accounts:checkout"), fields)

        assert response.status_code == 400
        assert not Order.objects.exists()
        assert cart_of(customer_client) == {str(product.pk): 2}


CHOICE_FIELDS = ("address", "delivery", "new-name", "new-line1", "new-city", "new-postcode", "new-country")


@FUZZ
@given(fields=hostile_fields(*CHOICE_FIELDS), new=st.booleans())
def test_checkout_choices_answer_hostile_input_and_charge_only_what_was_offered(
    customer_client, customer, shop_products, delivery_options, fields, new
):
    product, _ = shop_products
    put_in_cart(customer_client, {product.pk: 2})
    offered = {option.price for option in delivery_options}
    with zeal_context():
        place_order = checkout_form(customer_client)
        if new:  # half the time a new address, so its fields' checks run too
            place_order["address"] = "new"
        orders_before = set(Order.objects.values_list("pk", flat=True))

        response = post(customer_client, reverse("accounts:checkout"), [*place_order.items(), *fields])

        assert response.status_code in {303, 400}
        assert_stays_on_site(response)
        placed = Order.objects.exclude(pk__in=orders_before)
        if response.status_code == 400:
            assert not placed.exists()
            return
        (order,) = placed
        assert order.customer_id == customer.pk
        assert order.delivery_price in offered
        assert order.total == product.price * 2 + order.delivery_price
        assert [order.ship_name, order.ship_line1] in [
            [address.name, address.line1] for address in customer.addresses.all()
        ]
        put_in_cart(customer_client, {product.pk: 2})  # the next example buys again


ACCOUNT_FORMS = {
    "accounts:profile": ("name", "email", "password"),
    "accounts:address_new": ("name", "line1", "line2", "city", "postcode", "country", "make_default"),
    "accounts:address_edit": ("name", "line1", "line2", "city", "postcode", "country"),
    "accounts:address_delete": ("id", "pk"),
    "accounts:address_default": ("id", "pk"),
    "accounts:order_cancel": ("id", "pk", "status"),
    "accounts:password_change": ("old_password", "new_password1", "new_password2"),
    "accounts:password_reset": ("email",),
}
ON_AN_ADDRESS = {"accounts:address_edit", "accounts:address_delete", "accounts:address_default"}


@FUZZ
@given(name=st.sampled_from(sorted(ACCOUNT_FORMS)), data=st.data())
def test_account_forms_answer_hostile_input_without_a_500(customer_client, customer, name, data):
    fields = data.draw(hostile_fields(*ACCOUNT_FORMS[name]))
    with zeal_context():
        order = OrderFactory(customer=customer, status="paid")
        address = AddressFactory(customer=customer, is_default=False)  # one of the customer's, to change
        args = {"order_cancel": [order.pk]}.get(
            name[9:], [address.pk] if name[9:].startswith("address_") else []
        )
        args = [] if name == "accounts:address_new" else args

        response = post(customer_client, reverse(name, args=args), fields)

        assert response.status_code in {200, 302, 303, 400}
        assert_stays_on_site(response)
        # Neither the email nor the password changes without the password, which no example knows.
        assert Customer.objects.get(pk=customer.pk).email == customer.email
        assert User.objects.get(pk=customer.user_id).check_password(PASSWORD)


@FUZZ
@given(fields=hostile_fields("page"))
def test_order_list_answers_any_query_string(customer_client, customer, fields):
    response = customer_client.get(f"{reverse('accounts:orders')}?{form_body(fields)}")

    assert response.status_code == 200


# --- The reports --------------------------------------------------------------------------------


@pytest.fixture
def reports_staff(client):
    """Return a client logged in as staff with the dashboard's and every report's view permission."""
    user = UserFactory(is_staff=True)
    codenames = ["view_dashboard", "view_salesdaily", "view_productsales", "view_customervalue"]
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="reports", codename__in=codenames)
    )
    make_sales(3)
    CustomerFactory()
    reports_refresh()
    client.force_login(user)
    return client


@FUZZ
@given(fields=hostile_fields("date_from", "date_to", "orders_over"))
def test_dashboard_form_answers_hostile_input_with_200_or_400(reports_staff, fields):
    cache.clear()  # the blocks are built for each example's filters, not served from Redis

    response = reports_staff.get(f"{reverse('admin:reports_dashboard_changelist')}?{form_body(fields)}")

    assert response.status_code in {200, 400}


@FUZZ
@given(
    model=st.sampled_from(["salesdaily", "productsales", "customervalue"]),
    fields=hostile_fields("q", "o", "p", "day__gte", "orders_over", "category_name", "last_sold__gte"),
)
def test_report_lists_answer_hostile_query_strings(reports_staff, model, fields):
    response = reports_staff.get(f"{reverse(f'admin:reports_{model}_changelist')}?{form_body(fields)}")

    # 302: admin sends an unknown filter to ?e=1; 400: a lookup it does not allow (SuspiciousOperation).
    assert response.status_code in {200, 302, 400}
    assert_stays_on_site(response)


@FUZZ
@given(value=HOSTILE_VALUES)
def test_dashboard_form_refuses_what_is_not_a_date(reports_staff, value):
    response = reports_staff.get(reverse("admin:reports_dashboard_changelist"), {"date_from": value})

    assert response.status_code in {200, 400}
    if response.status_code == 200 and value.strip():
        assert response.context["filters"].date_from.isoformat() == value.strip()
