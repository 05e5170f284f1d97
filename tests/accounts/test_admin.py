from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from accounts.models import Order, OrderStatus
from tests.factories import CustomerFactory, OrderFactory, OrderItemFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _cold_content_type_cache():
    """Empty the per-process content type cache, so query counts do not depend on test order."""
    ContentType.objects.clear_cache()


def _make_orders(n: int) -> list[Order]:
    """Create n orders, each of a different customer, all placed today."""
    today = timezone.now()
    return [OrderFactory(created=today) for _ in range(n)]


# --- Users and customers --------------------------------------------------------------------


@pytest.mark.parametrize("n", [3, 30])
def test_user_changelist_queries_do_not_grow(admin_client, django_assert_num_queries, n):
    UserFactory.create_batch(n)

    # user, filtered count, full count, page of users, groups for the groups filter
    with django_assert_num_queries(5):
        response = admin_client.get(reverse("admin:accounts_user_changelist"))

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == n + 1  # and the admin


@pytest.mark.parametrize("n", [3, 30])
def test_customer_changelist_queries_do_not_grow(admin_client, django_assert_num_queries, n):
    for customer in CustomerFactory.create_batch(n):
        customer.user = UserFactory()
        customer.save()

    # user, filtered count, page of customers joined to their users
    with django_assert_num_queries(3):
        response = admin_client.get(reverse("admin:accounts_customer_changelist"))

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == n


@pytest.mark.parametrize("n", [3, 30])
def test_customer_changelist_search_queries_do_not_grow(admin_client, django_assert_num_queries, n):
    customers = CustomerFactory.create_batch(n)
    wanted = customers[-1]

    # user, filtered count, page of matches joined to their users
    with django_assert_num_queries(3):
        response = admin_client.get(reverse("admin:accounts_customer_changelist"), {"q": wanted.email})

    assert response.status_code == 200
    assert [customer.pk for customer in response.context["cl"].result_list] == [wanted.pk]


@pytest.mark.parametrize("n", [3, 30])
def test_customer_change_page_queries_do_not_grow(admin_client, django_assert_num_queries, n):
    customer = CustomerFactory(user=UserFactory(username="ann"))
    OrderFactory.create_batch(n, customer=customer)

    # user, the customer, its content type (history link), the linked user for the autocomplete box
    with django_assert_num_queries(4):
        response = admin_client.get(reverse("admin:accounts_customer_change", args=[customer.pk]))

    assert response.status_code == 200
    assert ">ann</option>" in response.content.decode()


# --- Orders ---------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [3, 30])
def test_order_changelist_queries_do_not_grow(admin_client, django_assert_num_queries, n):
    _make_orders(n)

    # user, filtered count, first and last order dates (date hierarchy), days with orders in
    # that month, page of orders joined to their customers
    with django_assert_num_queries(5):
        response = admin_client.get(reverse("admin:accounts_order_changelist"))

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == n


@pytest.mark.parametrize("n", [3, 30])
def test_order_changelist_search_by_email_queries_do_not_grow(admin_client, django_assert_num_queries, n):
    orders = _make_orders(n)
    wanted = orders[0]

    # user, filtered count, first and last order dates (date hierarchy), days with orders in
    # that month, page of matching orders joined to their customers
    with django_assert_num_queries(5):
        response = admin_client.get(
            reverse("admin:accounts_order_changelist"), {"q": wanted.customer.email.split("@")[0]}
        )

    assert response.status_code == 200
    assert [order.pk for order in response.context["cl"].result_list] == [wanted.pk]


@pytest.mark.parametrize("typed", ["{pk}", "#{pk}", " {pk} "])
def test_order_search_by_number_finds_that_order(admin_client, typed):
    orders = _make_orders(12)
    wanted = orders[1]

    response = admin_client.get(reverse("admin:accounts_order_changelist"), {"q": typed.format(pk=wanted.pk)})

    assert [order.pk for order in response.context["cl"].result_list] == [wanted.pk]


def test_order_changelist_filters_by_status(admin_client):
    paid = OrderFactory(status=OrderStatus.PAID)
    OrderFactory(status=OrderStatus.CANCELLED)

    response = admin_client.get(reverse("admin:accounts_order_changelist"), {"status__exact": "paid"})

    assert [order.pk for order in response.context["cl"].result_list] == [paid.pk]


@pytest.mark.parametrize("n", [3, 30])
def test_order_change_page_queries_do_not_grow(admin_client, django_assert_num_queries, n):
    order = OrderFactory()
    items = [
        OrderItemFactory(order=order, product=ProductFactory(name=f"Lamp {i}"), quantity=3) for i in range(n)
    ]

    # user, the order, its content type (history link), the customer for the autocomplete box,
    # the order's lines joined to their products
    with django_assert_num_queries(5):
        response = admin_client.get(reverse("admin:accounts_order_change", args=[order.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    # Each line's product is labelled and linked, from the product loaded with the line.
    for item in items:
        assert f"{item.product.name} ({item.product.sku})" in page
        assert reverse("admin:catalog_product_change", args=[item.product_id]) in page
    assert "59.97" in page  # 3 x 19.99, a line's subtotal
    # Read-only lines: no select of every product.
    assert '<select name="items-0-product"' not in page


def test_order_lines_and_total_are_read_only_and_status_can_change(admin_client):
    order = OrderFactory(status=OrderStatus.PAID, total=Decimal("39.98"))
    item = OrderItemFactory(order=order, quantity=2)
    url = reverse("admin:accounts_order_change", args=[order.pk])
    form = {
        "customer": order.customer_id,
        "status": OrderStatus.CANCELLED,
        "created_0": order.created.strftime("%Y-%m-%d"),
        "created_1": order.created.strftime("%H:%M:%S"),
        "total": "0.01",
        "items-TOTAL_FORMS": "1",
        "items-INITIAL_FORMS": "1",
        "items-0-id": item.pk,
        "items-0-order": order.pk,
        "items-0-quantity": "9",
    }

    page = admin_client.get(url).content.decode()
    response = admin_client.post(url, form)

    assert 'name="items-0-quantity"' not in page
    assert 'name="total"' not in page
    assert response.status_code == 302
    order.refresh_from_db()
    item.refresh_from_db()
    assert (order.status, order.total, item.quantity) == (OrderStatus.CANCELLED, Decimal("39.98"), 2)


def test_orders_cannot_be_added_in_admin(admin_client):
    assert admin_client.get(reverse("admin:accounts_order_add")).status_code == 403


# --- The mark-shipped action ----------------------------------------------------------------


def _post_mark_shipped(client, orders: list[Order]):
    return client.post(
        reverse("admin:accounts_order_changelist"),
        {"action": "mark_shipped", "_selected_action": [order.pk for order in orders], "index": 0},
    )


def test_mark_shipped_action_ships_pending_and_paid_orders_and_says_how_many(admin_client):
    pending = OrderFactory(status=OrderStatus.PENDING)
    paid = OrderFactory(status=OrderStatus.PAID)
    cancelled = OrderFactory(status=OrderStatus.CANCELLED)
    delivered = OrderFactory(status=OrderStatus.DELIVERED, shipped=timezone.now())

    response = _post_mark_shipped(admin_client, [pending, paid, cancelled, delivered])

    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Marked 2 orders shipped; skipped 2 orders that were not pending or paid."
    ]
    statuses = dict(Order.objects.values_list("pk", "status"))
    assert statuses == {
        pending.pk: OrderStatus.SHIPPED,
        paid.pk: OrderStatus.SHIPPED,
        cancelled.pk: OrderStatus.CANCELLED,
        delivered.pk: OrderStatus.DELIVERED,
    }
    assert Order.objects.filter(pk__in=[pending.pk, paid.pk], shipped__isnull=False).count() == 2
    assert Order.objects.get(pk=cancelled.pk).shipped is None


def test_mark_shipped_action_with_nothing_to_ship_says_so(admin_client):
    cancelled = OrderFactory(status=OrderStatus.CANCELLED)

    response = _post_mark_shipped(admin_client, [cancelled])

    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Marked 0 orders shipped; skipped 1 order that were not pending or paid."
    ]
    assert Order.objects.get(pk=cancelled.pk).status == OrderStatus.CANCELLED


def test_mark_shipped_action_over_all_filtered_orders_ships_only_those(admin_client):
    mine = CustomerFactory(email="ann@example.com")
    ann_orders = OrderFactory.create_batch(3, customer=mine, status=OrderStatus.PENDING)
    someone_else = OrderFactory(status=OrderStatus.PENDING)

    response = admin_client.post(
        reverse("admin:accounts_order_changelist") + "?q=ann%40example",
        {"action": "mark_shipped", "select_across": "1", "_selected_action": [ann_orders[0].pk], "index": 0},
    )

    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Marked 3 orders shipped; skipped 0 orders that were not pending or paid."
    ]
    assert Order.objects.filter(customer=mine, status=OrderStatus.SHIPPED).count() == 3
    assert Order.objects.get(pk=someone_else.pk).status == OrderStatus.PENDING
    assert Order.objects.get(pk=someone_else.pk).total == Decimal("39.98")
