from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Customer, Order, OrderItem, OrderStatus
from accounts.services import CustomerEmailUnusable, customer_for_user, order_place
from catalog.models import Product
from catalog.services import OutOfStock, ProductUnavailable
from tests.accounts.helpers import cart_of, put_in_cart
from tests.factories import CategoryFactory, CustomerFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

CHECKOUT = reverse("accounts:checkout")
CART = reverse("accounts:cart")


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- The checkout page ------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 30])
def test_checkout_page_queries_do_not_grow(customer_client, django_assert_num_queries, n):
    products = ProductFactory.create_batch(n, category=CategoryFactory(), price=Decimal("4.00"))
    put_in_cart(customer_client, {product.pk: 1 for product in products})

    # the user (the session comes from Redis), the cart's products
    with django_assert_num_queries(2):
        response = customer_client.get(CHECKOUT)

    assert response.status_code == 200
    assert response.context["summary"].total == Decimal("4.00") * n
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


# --- Placing the order ------------------------------------------------------------------------


def test_checkout_places_the_order_takes_the_stock_and_empties_the_cart(customer_client, customer):
    shirt = ProductFactory(name="Shirt", price=Decimal("10.00"), stock=5)
    socks = ProductFactory(name="Socks", price=Decimal("5.50"), stock=3)
    long_ago = timezone.now() - timedelta(days=30)
    Product.objects.update(updated=long_ago)
    put_in_cart(customer_client, {shirt.pk: 2, socks.pk: 1})

    response = customer_client.post(CHECKOUT)

    order = Order.objects.get()
    assert response.status_code == 303
    assert response["Location"] == reverse("accounts:order", args=[order.pk])
    assert order.customer == customer
    assert order.status == OrderStatus.PAID
    assert order.total == Decimal("25.50")
    items = set(OrderItem.objects.filter(order=order).values_list("product_id", "quantity", "unit_price"))
    assert items == {(shirt.pk, 2, Decimal("10.00")), (socks.pk, 1, Decimal("5.50"))}
    stock = dict(Product.objects.values_list("pk", "stock"))
    assert stock == {shirt.pk: 3, socks.pk: 2}
    assert all(updated > long_ago for updated in Product.objects.values_list("updated", flat=True))
    customer.refresh_from_db()
    assert customer.last_purchase == order.created
    assert cart_of(customer_client) == {}


def test_checkout_charges_the_price_of_the_moment(customer_client):
    product = ProductFactory(price=Decimal("10.00"))
    put_in_cart(customer_client, {product.pk: 3})
    Product.objects.filter(pk=product.pk).update(price=Decimal("7.00"))

    customer_client.post(CHECKOUT)

    order = Order.objects.get()
    assert order.total == Decimal("21.00")
    assert order.items.get().unit_price == Decimal("7.00")


def test_checkout_short_of_stock_writes_nothing_and_the_cart_says_how_many_are_left(
    customer_client, customer
):
    plenty = ProductFactory(name="Pencil", stock=10)
    scarce = ProductFactory(name="Fountain pen", stock=2)
    put_in_cart(customer_client, {plenty.pk: 1, scarce.pk: 2})
    Product.objects.filter(pk=scarce.pk).update(stock=1)  # someone else bought one meanwhile

    response = customer_client.post(CHECKOUT, follow=True)

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
    Product.objects.filter(pk=retired.pk).update(is_active=False)

    response = customer_client.post(CHECKOUT)

    assert response["Location"] == CART
    assert _messages(response) == ["Old lamp is no longer available. Nothing was charged: please remove it."]
    assert not Order.objects.exists()
    assert Product.objects.get(pk=kept.pk).stock == 10


def test_checkout_creates_the_customer_of_a_user_who_has_none(client):
    staff = UserFactory(email="Boss@Example.COM", first_name="Ada", last_name="Lovelace", is_staff=True)
    client.force_login(staff)
    put_in_cart(client, {ProductFactory().pk: 1})

    client.post(CHECKOUT)

    customer = Customer.objects.get(user=staff)
    assert (customer.name, customer.email) == ("Ada Lovelace", "Boss@example.com")
    assert Order.objects.get().customer == customer


def test_checkout_of_a_user_without_email_is_refused_with_a_message(client):
    user = UserFactory(email="")
    client.force_login(user)
    product = ProductFactory(stock=5)
    put_in_cart(client, {product.pk: 1})

    response = client.post(CHECKOUT)

    assert response["Location"] == CART
    assert "needs its own email address" in _messages(response)[0]
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


def test_order_place_raises_out_of_stock_naming_the_product_and_writes_nothing(customer):
    fine = ProductFactory(stock=5)
    short = ProductFactory(name="Rare book", stock=1)

    with pytest.raises(OutOfStock) as raised:
        order_place(customer=customer, lines={fine.pk: 1, short.pk: 3})

    assert (raised.value.product_name, raised.value.requested, raised.value.available) == ("Rare book", 3, 1)
    assert not Order.objects.exists()
    assert dict(Product.objects.values_list("pk", "stock")) == {fine.pk: 5, short.pk: 1}


def test_order_place_raises_product_unavailable_for_a_deleted_product(customer):
    product = ProductFactory()

    with pytest.raises(ProductUnavailable) as raised:
        order_place(customer=customer, lines={product.pk: 1, product.pk + 1000: 1})

    assert raised.value.product_id == product.pk + 1000
    assert not Order.objects.exists()
    assert Product.objects.get().stock == product.stock


@pytest.mark.parametrize("lines", [{}, {1: 0}, {1: -2}], ids=["empty", "zero", "negative"])
def test_order_place_refuses_lines_that_are_no_order(customer, lines):
    with pytest.raises(ValueError, match=r"order|quantity"):
        order_place(customer=customer, lines=lines)


def test_order_place_can_sell_the_last_item(customer):
    product = ProductFactory(stock=2)

    order_place(customer=customer, lines={product.pk: 2})

    assert Product.objects.get().stock == 0


@pytest.mark.parametrize("n", [1, 30])
def test_order_place_queries_do_not_grow_with_the_lines(customer, django_assert_num_queries, n):
    products = ProductFactory.create_batch(n, category=CategoryFactory())

    # savepoint, lock the products, one UPDATE of their stock, insert the order, insert its items,
    # update the customer, release the savepoint
    with django_assert_num_queries(7):
        order_place(customer=customer, lines={product.pk: 1 for product in products})

    assert OrderItem.objects.count() == n


def test_order_place_locks_the_products_in_id_order(customer):
    first, second = ProductFactory(), ProductFactory()

    with CaptureQueriesContext(connection) as queries:
        order_place(customer=customer, lines={second.pk: 1, first.pk: 1})

    lock = next(query["sql"] for query in queries if "FOR UPDATE" in query["sql"])
    assert lock.endswith('ORDER BY "catalog_product"."id" ASC FOR UPDATE')
