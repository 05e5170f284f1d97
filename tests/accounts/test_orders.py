from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Customer, Order
from tests.factories import CategoryFactory, CustomerFactory, OrderFactory, OrderItemFactory, ProductFactory

pytestmark = pytest.mark.django_db

ORDERS = reverse("accounts:orders")


def _orders_with_items(customer: Customer, n: int, *, items: int = 3) -> list[Order]:
    """Create n orders of the customer, one a day back from now, each with `items` lines."""
    products = ProductFactory.create_batch(items, category=CategoryFactory())
    now = timezone.now()
    orders = []
    for day in range(n):
        order = OrderFactory(customer=customer, created=now - timedelta(days=day))
        for product in products:
            OrderItemFactory(order=order, product=product)
        orders.append(order)
    return orders


# --- The list of orders -----------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 30])
def test_order_list_queries_do_not_grow(customer_client, customer, django_assert_num_queries, n):
    _orders_with_items(customer, n, items=4)

    # the user (the session comes from Redis), count for the pager, the page of orders,
    # their items with their products (one prefetch)
    with django_assert_num_queries(4):
        response = customer_client.get(ORDERS)

    assert response.status_code == 200
    page = response.context["page"]
    assert len(page.object_list) == min(n, 20)
    assert all(len(order.items.all()) == 4 for order in page.object_list)


def test_order_list_shows_the_newest_first_with_items_and_totals(customer_client, customer):
    old = OrderFactory(customer=customer, created=timezone.now() - timedelta(days=3), total=Decimal("7.00"))
    new = OrderFactory(customer=customer, total=Decimal("31.50"))
    OrderItemFactory(order=old, product=ProductFactory(name="Teapot"), quantity=1, unit_price=Decimal("7.00"))
    OrderItemFactory(order=new, product=ProductFactory(name="Cups"), quantity=3, unit_price=Decimal("10.50"))

    response = customer_client.get(ORDERS)

    assert [order.pk for order in response.context["page"]] == [new.pk, old.pk]
    content = response.content.decode()
    assert content.index(f"Order #{new.pk}") < content.index(f"Order #{old.pk}")
    for text in ("Cups", "$10.50", "$31.50", "Teapot", "$7.00"):
        assert text in content


def test_order_list_pages_by_twenty(customer_client, customer):
    orders = _orders_with_items(customer, 30, items=1)

    response = customer_client.get(ORDERS, {"page": 2})

    assert [order.pk for order in response.context["page"]] == [order.pk for order in orders[20:]]
    assert b"Page 2 of 2" in response.content


@pytest.mark.parametrize("page", ["abc", "0", "-1", str(10**30), "\x00"])
def test_order_list_with_a_bad_page_number_shows_a_page(customer_client, customer, page):
    _orders_with_items(customer, 2, items=1)

    response = customer_client.get(ORDERS, {"page": page})

    assert response.status_code == 200
    assert len(response.context["page"].object_list) == 2


def test_order_list_shows_only_the_customers_own_orders(customer_client, customer):
    mine = OrderFactory(customer=customer)
    OrderFactory(customer=CustomerFactory())

    response = customer_client.get(ORDERS)

    assert [order.pk for order in response.context["page"]] == [mine.pk]


def test_order_list_of_a_user_without_customer_is_empty(admin_client):
    OrderFactory()

    response = admin_client.get(ORDERS)

    assert response.status_code == 200
    assert b"You have no orders yet." in response.content


# --- One order --------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 30])
def test_order_page_queries_do_not_grow(customer_client, customer, django_assert_num_queries, n):
    (order,) = _orders_with_items(customer, 1, items=n)

    # the user (the session comes from Redis), the order, its items with their products
    with django_assert_num_queries(3):
        response = customer_client.get(reverse("accounts:order", args=[order.pk]))

    assert response.status_code == 200
    assert len(response.context["order"].items.all()) == n


def test_order_page_shows_the_items_and_total(customer_client, customer):
    order = OrderFactory(customer=customer, total=Decimal("45.00"))
    OrderItemFactory(
        order=order, product=ProductFactory(name="Blanket"), quantity=2, unit_price=Decimal("22.50")
    )

    response = customer_client.get(reverse("accounts:order", args=[order.pk]))

    content = response.content.decode()
    assert "Blanket" in content
    assert "$22.50" in content
    assert "$45.00" in content
    assert response.context["order"].items.get().subtotal == Decimal("45.00")


def test_another_customers_order_is_not_found_by_the_query(customer_client):
    theirs = OrderFactory(customer=CustomerFactory())

    with CaptureQueriesContext(connection) as queries:
        response = customer_client.get(reverse("accounts:order", args=[theirs.pk]))

    assert response.status_code == 404
    order_query = next(query["sql"] for query in queries if 'FROM "accounts_order"' in query["sql"])
    assert '"accounts_customer"."user_id" =' in order_query


@pytest.mark.parametrize("pk", [999999, 10**30])
def test_an_order_that_does_not_exist_is_not_found(customer_client, pk):
    assert customer_client.get(f"/account/orders/{pk}/").status_code == 404


@pytest.mark.parametrize("url", [ORDERS, "/account/orders/1/"])
def test_orders_send_anonymous_visitors_to_log_in(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:login')}?next={url}"
