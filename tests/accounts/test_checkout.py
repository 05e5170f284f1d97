import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.core import signing
from django.db import IntegrityError, connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.checkout import SALT, Confirmation
from accounts.forms import CONFIRMATION_OUT_OF_DATE
from accounts.models import Customer, Order, OrderItem, OrderStatus, User
from accounts.services import (
    CustomerEmailUnusable,
    CustomerInactive,
    PricesChanged,
    customer_for_user,
    order_place,
)
from catalog.models import Product
from catalog.services import OutOfStock, ProductUnavailable
from tests.accounts.helpers import (
    cart_of,
    checkout_confirmation,
    checkout_form,
    form_of,
    place_order,
    put_in_cart,
)
from tests.factories import AddressFactory, CategoryFactory, CustomerFactory, ProductFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("delivery_options")]

CHECKOUT = reverse("accounts:checkout")
CART = reverse("accounts:cart")
# A new address typed on the checkout page, as its form sends it.
NEW_ADDRESS = {
    "new-name": "Ada Lovelace",
    "new-line1": "12 St James's Square",
    "new-line2": "",
    "new-city": "London",
    "new-postcode": "SW1Y 4JH",
    "new-country": "United Kingdom",
}
# Lets an inactive user stay logged in, so that the checkout's own check is what refuses them.
ALLOW_ALL = "django.contrib.auth.backends.AllowAllUsersModelBackend"


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- The checkout page ------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 20])
def test_checkout_page_queries_do_not_grow(customer_client, customer, django_assert_num_queries, n):
    products = ProductFactory.create_batch(n, category=CategoryFactory(), price=Decimal("4.00"))
    put_in_cart(customer_client, {product.pk: 1 for product in products})
    AddressFactory.create_batch(n - 1, customer=customer, is_default=False)  # n in the book

    # the user (the session comes from Redis), the cart's products, the address book, the
    # delivery options
    with django_assert_num_queries(4):
        response = customer_client.get(CHECKOUT)

    assert response.status_code == 200
    assert response.context["summary"].total == Decimal("4.00") * n
    assert len(response.context["addresses"]) == n
    assert len(response.context["offers"]) == 2
    assert b"Place order" in response.content


def test_checkout_page_shows_current_prices(customer_client):
    product = ProductFactory(name="Mug", price=Decimal("8.00"))
    put_in_cart(customer_client, {product.pk: 2})
    Product.objects.filter(pk=product.pk).update(price=Decimal("9.50"))

    response = customer_client.get(CHECKOUT)

    content = response.content.decode()
    assert "$9.50" in content
    assert "$19.00" in content


@pytest.mark.parametrize("method", ["get", "post"])
def test_checkout_sends_anonymous_visitors_to_log_in(client, method):
    product = ProductFactory()
    put_in_cart(client, {product.pk: 1})

    response = getattr(client, method)(CHECKOUT)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:login')}?next={CHECKOUT}"
    assert not Order.objects.exists()


def test_checkout_of_an_empty_cart_goes_back_to_the_cart(customer_client):
    response = customer_client.post(CHECKOUT)

    assert response.status_code == 303
    assert response["Location"] == CART
    assert not Order.objects.exists()


def test_checkout_page_with_a_problem_line_goes_back_to_the_cart(customer_client):
    put_in_cart(customer_client, {ProductFactory(stock=1).pk: 2})

    response = customer_client.get(CHECKOUT)

    assert response.status_code == 303
    assert response["Location"] == CART


def test_checkout_page_carries_a_new_signed_confirmation_of_what_it_shows(customer_client, customer):
    mug = ProductFactory(name="Mug", price=Decimal("8.00"))
    put_in_cart(customer_client, {mug.pk: 2})

    first, second = checkout_confirmation(customer_client), checkout_confirmation(customer_client)

    shown = Confirmation.from_signed(first)
    assert shown.user_id == customer.user.pk
    assert shown.quantities == {mug.pk: 2}
    assert shown.prices == {mug.pk: Decimal("8.00")}
    assert shown.total == Decimal("16.00")
    assert Confirmation.from_signed(second).token != shown.token  # one token per page shown
    page = customer_client.get(CHECKOUT).content.decode()
    assert 'type="hidden" name="confirmation"' in page


# --- Placing the order ------------------------------------------------------------------------


def test_checkout_places_the_order_takes_the_stock_and_empties_the_cart(customer_client, customer):
    shirt = ProductFactory(name="Shirt", price=Decimal("10.00"), stock=5)
    socks = ProductFactory(name="Socks", price=Decimal("5.50"), stock=3)
    long_ago = timezone.now() - timedelta(days=30)
    Product.objects.update(updated=long_ago)
    put_in_cart(customer_client, {shirt.pk: 2, socks.pk: 1})

    response = place_order(customer_client)

    order = Order.objects.get()
    assert response.status_code == 303
    assert response["Location"] == reverse("accounts:order", args=[order.pk])
    assert order.customer == customer
    assert order.status == OrderStatus.PAID
    assert order.total == Decimal("25.50") + Decimal("4.95")  # the items, and the standard delivery
    assert (order.delivery_name, order.delivery_price) == ("Standard delivery", Decimal("4.95"))
    assert order.ship_to == customer.addresses.get().lines
    assert order.checkout_token is not None
    items = set(OrderItem.objects.filter(order=order).values_list("product_id", "quantity", "unit_price"))
    assert items == {(shirt.pk, 2, Decimal("10.00")), (socks.pk, 1, Decimal("5.50"))}
    stock = dict(Product.objects.values_list("pk", "stock"))
    assert stock == {shirt.pk: 3, socks.pk: 2}
    assert all(updated > long_ago for updated in Product.objects.values_list("updated", flat=True))
    customer.refresh_from_db()
    assert customer.last_purchase == order.created
    assert cart_of(customer_client) == {}


@pytest.mark.parametrize("n", [1, 30])
def test_placing_an_order_runs_the_same_queries_whatever_the_lines(
    customer_client, django_assert_num_queries, n
):
    products = ProductFactory.create_batch(n, category=CategoryFactory())
    put_in_cart(customer_client, {product.pk: 1 for product in products})
    form = checkout_form(customer_client)

    # the user; the locked cart's transaction (a savepoint here), its session row locked, the
    # address book, an order of this page already?; the customer (3, in its savepoint);
    # order_place (10: two savepoints, insert the order with its address, release, update the
    # customer, lock the products, take their stock, the delivery option's price, insert the
    # items, release); save the session (3, in its savepoint); end of the transaction; the
    # primary's WAL position for read-your-writes
    with django_assert_num_queries(23):
        response = customer_client.post(CHECKOUT, form)

    assert response.status_code == 303
    assert OrderItem.objects.count() == n


# --- Once: the same page submitted again --------------------------------------------------------


def test_the_same_page_submitted_twice_places_one_order_and_answers_both_with_it(customer_client):
    product = ProductFactory(stock=10)
    put_in_cart(customer_client, {product.pk: 2})
    form = checkout_form(customer_client)

    first = customer_client.post(CHECKOUT, form)
    again = customer_client.post(CHECKOUT, form)

    order = Order.objects.get()
    assert first.status_code == again.status_code == 303
    assert first["Location"] == again["Location"] == reverse("accounts:order", args=[order.pk])
    assert _messages(again)[-1] == f"Thank you! Your order #{order.pk} is placed."
    assert Product.objects.get().stock == 8


def test_the_same_page_submitted_again_after_refilling_the_cart_keeps_the_new_cart(customer_client):
    product = ProductFactory(stock=10)
    put_in_cart(customer_client, {product.pk: 2})
    form = checkout_form(customer_client)
    customer_client.post(CHECKOUT, form)
    put_in_cart(customer_client, {product.pk: 2})  # the same again, for a second order later

    again = customer_client.post(CHECKOUT, form)

    assert again["Location"] == reverse("accounts:order", args=[Order.objects.get().pk])
    assert cart_of(customer_client) == {str(product.pk): 2}
    assert Product.objects.get().stock == 8


def test_a_new_page_places_a_new_order(customer_client):
    product = ProductFactory(stock=10)
    put_in_cart(customer_client, {product.pk: 1})
    place_order(customer_client)
    put_in_cart(customer_client, {product.pk: 1})

    place_order(customer_client)

    assert Order.objects.count() == 2


# --- At the figures shown -------------------------------------------------------------------------


@pytest.mark.parametrize(("now", "went"), [("12.00", "up"), ("7.00", "down")])
def test_a_price_changed_since_the_page_was_shown_places_nothing_and_shows_the_new_figures(
    customer_client, customer, now, went
):
    mug = ProductFactory(name="Mug", price=Decimal("10.00"), stock=5)
    put_in_cart(customer_client, {mug.pk: 3})
    form = checkout_form(customer_client)
    Product.objects.filter(pk=mug.pk).update(price=Decimal(now))

    response = customer_client.post(CHECKOUT, form)

    assert response.status_code == 409
    assert not Order.objects.exists()
    assert Product.objects.get().stock == 5
    customer.refresh_from_db()
    assert customer.last_purchase is None
    assert f"The price of Mug went {went} from $10.00 to ${now}." in _messages(response)
    page = response.content.decode()
    assert f"${Decimal(now) * 3}" in page  # the new total, to confirm
    renewed = Confirmation.from_signed(response.context["confirmation"])
    assert renewed.prices == {mug.pk: Decimal(now)}
    assert cart_of(customer_client) == {str(mug.pk): 3}


def test_confirming_the_new_figures_places_the_order_at_them(customer_client):
    mug = ProductFactory(name="Mug", price=Decimal("10.00"))
    put_in_cart(customer_client, {mug.pk: 3})
    form = checkout_form(customer_client)
    Product.objects.filter(pk=mug.pk).update(price=Decimal("12.00"))
    refused = customer_client.post(CHECKOUT, form)

    placed = customer_client.post(CHECKOUT, form_of(refused))

    assert placed.status_code == 303
    order = Order.objects.get()
    assert order.total == Decimal("36.00") + Decimal("4.95")
    assert order.items.get().unit_price == Decimal("12.00")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("add", "Pen was added to your cart."),
        ("remove", "Mug is no longer in your cart."),
        ("quantity", "Mug: you now have 3, not 2."),
    ],
)
def test_a_cart_changed_in_another_tab_places_nothing_and_says_what_changed(customer_client, change, message):
    mug, pen = ProductFactory(name="Mug"), ProductFactory(name="Pen")
    put_in_cart(customer_client, {mug.pk: 2, pen.pk: 1} if change == "remove" else {mug.pk: 2})
    form = checkout_form(customer_client)
    changed = {"add": {mug.pk: 2, pen.pk: 1}, "remove": {pen.pk: 1}, "quantity": {mug.pk: 3}}[change]
    put_in_cart(customer_client, changed)

    response = customer_client.post(CHECKOUT, form)

    assert response.status_code == 409
    assert message in _messages(response)
    assert not Order.objects.exists()
    assert Confirmation.from_signed(response.context["confirmation"]).quantities == changed


@pytest.mark.parametrize(
    "confirmation",
    ["", "not-signed", "x" * 30_000],
    ids=["empty", "forged", "too-long"],
)
def test_a_submission_without_a_valid_confirmation_places_nothing_and_shows_the_page_again(
    customer_client, confirmation
):
    product = ProductFactory(stock=5)
    put_in_cart(customer_client, {product.pk: 1})

    response = customer_client.post(
        CHECKOUT, {**checkout_form(customer_client), "confirmation": confirmation}
    )

    assert response.status_code == 400
    assert _messages(response) == [CONFIRMATION_OUT_OF_DATE]
    assert Confirmation.from_signed(response.context["confirmation"]).quantities == {product.pk: 1}
    assert not Order.objects.exists()
    assert Product.objects.get().stock == 5


def test_a_confirmation_with_altered_figures_is_refused(customer_client):
    product = ProductFactory(price=Decimal("10.00"))
    put_in_cart(customer_client, {product.pk: 1})
    shown = Confirmation.from_signed(checkout_confirmation(customer_client))
    payload = signing.loads(shown.signed(), salt=SALT)
    payload["lines"][0][3] = "0.01"
    tampered = signing.dumps(payload, salt="another salt", compress=True)

    response = customer_client.post(CHECKOUT, {**checkout_form(customer_client), "confirmation": tampered})

    assert response.status_code == 400
    assert not Order.objects.exists()


def test_a_confirmation_shown_to_another_user_is_refused(customer_client, client):
    product = ProductFactory()
    other = Client()
    other.force_login(CustomerFactory(user=UserFactory()).user)
    put_in_cart(other, {product.pk: 1})
    put_in_cart(customer_client, {product.pk: 1})

    forms = checkout_form(customer_client), checkout_form(other)
    response = customer_client.post(CHECKOUT, {**forms[0], "confirmation": forms[1]["confirmation"]})

    assert response.status_code == 400
    assert not Order.objects.exists()


def test_two_confirmations_in_one_submission_are_refused(customer_client):
    product = ProductFactory()
    put_in_cart(customer_client, {product.pk: 1})
    confirmations = [checkout_confirmation(customer_client), checkout_confirmation(customer_client)]

    response = customer_client.post(
        CHECKOUT, {**checkout_form(customer_client), "confirmation": confirmations}
    )

    assert response.status_code == 400
    assert not Order.objects.exists()


# --- Refused: nothing written ---------------------------------------------------------------------


def test_checkout_short_of_stock_writes_nothing_and_the_cart_says_how_many_are_left(
    customer_client, customer
):
    plenty = ProductFactory(name="Pencil", stock=10)
    scarce = ProductFactory(name="Fountain pen", stock=2)
    put_in_cart(customer_client, {plenty.pk: 1, scarce.pk: 2})
    form = checkout_form(customer_client)
    Product.objects.filter(pk=scarce.pk).update(stock=1)  # someone else bought one meanwhile

    response = customer_client.post(CHECKOUT, form, follow=True)

    assert response.redirect_chain == [(CART, 303)]
    content = response.content.decode()
    assert "Sorry, only 1 of Fountain pen left (you asked for 2)." in content
    assert "Fountain pen</strong>: Only 1 left" in content
    assert not Order.objects.exists()
    assert not OrderItem.objects.exists()
    assert dict(Product.objects.values_list("pk", "stock")) == {plenty.pk: 10, scarce.pk: 1}
    customer.refresh_from_db()
    assert customer.last_purchase is None
    assert cart_of(customer_client) == {str(plenty.pk): 1, str(scarce.pk): 2}


def test_checkout_of_a_product_no_longer_sold_writes_nothing(customer_client):
    kept = ProductFactory(stock=10)
    retired = ProductFactory(name="Old lamp", stock=10)
    put_in_cart(customer_client, {kept.pk: 1, retired.pk: 1})
    form = checkout_form(customer_client)
    Product.objects.filter(pk=retired.pk).update(is_active=False)

    response = customer_client.post(CHECKOUT, form)

    assert response["Location"] == CART
    assert _messages(response) == ["Old lamp is no longer available. Nothing was charged: please remove it."]
    assert not Order.objects.exists()
    assert Product.objects.get(pk=kept.pk).stock == 10


@pytest.mark.parametrize("deactivated", ["customer", "user"])
def test_a_deactivated_customer_cannot_place_orders_and_nothing_is_written(
    customer_client, customer, deactivated
):
    product = ProductFactory(stock=5)
    put_in_cart(customer_client, {product.pk: 1})
    form = checkout_form(customer_client)
    if deactivated == "customer":
        Customer.objects.filter(pk=customer.pk).update(is_active=False)
    else:
        # Logged in on a backend that lets an inactive user in: only the checkout stops them.
        User.objects.filter(pk=customer.user.pk).update(is_active=False)
        customer_client.force_login(User.objects.get(pk=customer.user.pk), backend=ALLOW_ALL)

    with override_settings(AUTHENTICATION_BACKENDS=[*settings.AUTHENTICATION_BACKENDS, ALLOW_ALL]):
        response = customer_client.post(CHECKOUT, form)

    assert response.status_code == 303
    assert response["Location"] == CART
    assert _messages(response) == [
        "Your account is closed and cannot place orders. Nothing was charged: please contact us."
    ]
    assert not Order.objects.exists()
    assert Product.objects.get().stock == 5
    customer.refresh_from_db()
    assert customer.last_purchase is None
    assert cart_of(customer_client) == {str(product.pk): 1}


def test_checkout_creates_the_customer_of_a_user_who_has_none(client):
    staff = UserFactory(email="Boss@Example.COM", first_name="Ada", last_name="Lovelace", is_staff=True)
    client.force_login(staff)
    put_in_cart(client, {ProductFactory().pk: 1})

    place_order(client, **NEW_ADDRESS)

    customer = Customer.objects.get(user=staff)
    assert (customer.name, customer.email) == ("Ada Lovelace", "Boss@example.com")
    assert Order.objects.get().customer == customer


def test_checkout_of_a_user_without_email_is_refused_with_a_message(client):
    user = UserFactory(email="")
    client.force_login(user)
    product = ProductFactory(stock=5)
    put_in_cart(client, {product.pk: 1})

    response = place_order(client, **NEW_ADDRESS)

    assert response["Location"] == CART
    assert "needs its own email address" in _messages(response)[-1]
    assert not Customer.objects.exists()
    assert not Order.objects.exists()
    assert Product.objects.get(pk=product.pk).stock == 5


def test_customer_for_user_never_takes_over_another_customers_email():
    CustomerFactory(email="shared@example.com")
    user = UserFactory(email="SHARED@example.com")

    with pytest.raises(CustomerEmailUnusable, match=r"(?i)shared@example\.com"):
        customer_for_user(user=user)

    assert not Customer.objects.filter(user=user).exists()


def test_customer_for_user_returns_the_existing_customer():
    existing = CustomerFactory(user=UserFactory())

    assert customer_for_user(user=existing.user) == existing
    assert Customer.objects.count() == 1


# --- order_place ------------------------------------------------------------------------------


def _place(customer, lines: dict[Product, int], **kwargs) -> Order:
    """Place `lines` ({product: quantity}) at the products' prices as the test knows them."""
    return order_place(
        customer=customer,
        lines={product.pk: quantity for product, quantity in lines.items()},
        prices={product.pk: product.price for product in lines},
        **kwargs,
    )


def test_order_place_raises_out_of_stock_naming_the_product_and_writes_nothing(customer):
    fine = ProductFactory(stock=5)
    short = ProductFactory(name="Rare book", stock=1)

    with pytest.raises(OutOfStock) as raised:
        _place(customer, {fine: 1, short: 3})

    assert (raised.value.product_name, raised.value.requested, raised.value.available) == ("Rare book", 3, 1)
    assert not Order.objects.exists()
    assert dict(Product.objects.values_list("pk", "stock")) == {fine.pk: 5, short.pk: 1}


def test_order_place_raises_product_unavailable_for_a_deleted_product(customer):
    product = ProductFactory()

    with pytest.raises(ProductUnavailable) as raised:
        order_place(
            customer=customer,
            lines={product.pk: 1, product.pk + 1000: 1},
            prices={product.pk: product.price, product.pk + 1000: Decimal("1.00")},
        )

    assert raised.value.product_id == product.pk + 1000
    assert not Order.objects.exists()
    assert Product.objects.get().stock == product.stock


@pytest.mark.parametrize(
    ("lines", "prices"),
    [
        ({}, {}),
        ({1: 0}, {1: Decimal(1)}),
        ({1: -2}, {1: Decimal(1)}),
        ({1: 1}, {}),
        ({1: 1}, {2: Decimal(1)}),
    ],
    ids=["empty", "zero", "negative", "no-price", "another-products-price"],
)
def test_order_place_refuses_lines_that_are_no_order(customer, lines, prices):
    with pytest.raises(ValueError, match=r"order|quantity|price"):
        order_place(customer=customer, lines=lines, prices=prices)


def test_order_place_can_sell_the_last_item(customer):
    product = ProductFactory(stock=2)

    _place(customer, {product: 2})

    assert Product.objects.get().stock == 0


def test_order_place_charges_the_prices_shown_and_refuses_others(customer):
    product = ProductFactory(price=Decimal("10.00"), stock=5)

    with pytest.raises(PricesChanged) as raised:
        order_place(customer=customer, lines={product.pk: 2}, prices={product.pk: Decimal("9.99")})

    assert raised.value.changes == {product.pk: (Decimal("9.99"), Decimal("10.00"))}
    assert not Order.objects.exists()
    assert Product.objects.get().stock == 5


def test_order_place_with_a_used_token_returns_that_order_and_places_nothing(customer):
    product = ProductFactory(stock=5)
    token = uuid.uuid4()
    first = _place(customer, {product: 2}, checkout_token=token)

    again = _place(customer, {product: 2}, checkout_token=token)

    assert again == first
    assert Order.objects.count() == 1
    assert Product.objects.get().stock == 3


def test_order_place_never_hands_out_another_customers_order_by_its_token(customer):
    product = ProductFactory(stock=5)
    token = uuid.uuid4()
    _place(CustomerFactory(), {product: 1}, checkout_token=token)

    with pytest.raises(IntegrityError, match="order_checkout_token_unique"):
        _place(customer, {product: 1}, checkout_token=token)

    assert Product.objects.get().stock == 4


@pytest.mark.parametrize("deactivated", ["customer", "user"])
def test_order_place_refuses_a_deactivated_customer(customer, deactivated):
    product = ProductFactory(stock=5)
    if deactivated == "customer":
        Customer.objects.filter(pk=customer.pk).update(is_active=False)
    else:
        User.objects.filter(pk=customer.user.pk).update(is_active=False)

    with pytest.raises(CustomerInactive):
        _place(customer, {product: 1})

    assert not Order.objects.exists()
    assert Product.objects.get().stock == 5


def test_order_place_places_for_a_customer_without_a_login():
    product = ProductFactory(stock=5)

    _place(CustomerFactory(user=None), {product: 1})

    assert Order.objects.count() == 1


@pytest.mark.parametrize("n", [1, 30])
def test_order_place_queries_do_not_grow_with_the_lines(customer, django_assert_num_queries, n):
    products = ProductFactory.create_batch(n, category=CategoryFactory())

    # savepoint, savepoint, insert the order (claiming its token), release, update the customer
    # (if still active), lock the products, one UPDATE of their stock, insert its items, release
    with django_assert_num_queries(9):
        _place(customer, dict.fromkeys(products, 1), checkout_token=uuid.uuid4())

    assert OrderItem.objects.count() == n


def test_order_place_locks_the_products_in_id_order(customer):
    first, second = ProductFactory(), ProductFactory()

    with CaptureQueriesContext(connection) as queries:
        _place(customer, {second: 1, first: 1})

    lock = next(query["sql"] for query in queries if "FOR UPDATE" in query["sql"])
    assert lock.endswith('ORDER BY "catalog_product"."id" ASC FOR UPDATE')
