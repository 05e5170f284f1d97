import re
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from accounts.models import Order, OrderStatus
from catalog.models import Product
from tests.factories import (
    CategoryFactory,
    CustomerFactory,
    OrderFactory,
    OrderItemFactory,
    ProductFactory,
    UserFactory,
)

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

    # user, the customer, its content type (history link), the linked user for the autocomplete
    # box, how many orders the customer has (the link to them)
    with django_assert_num_queries(5):
        response = admin_client.get(reverse("admin:accounts_customer_change", args=[customer.pk]))

    assert response.status_code == 200
    assert ">ann</option>" in response.content.decode()
    assert f'?customer={customer.pk}">{n} orders</a>' in response.content.decode()


def test_a_customers_page_links_to_their_orders_and_only_theirs(admin_client):
    ann = CustomerFactory(name="Ann Lee")
    ann_orders = OrderFactory.create_batch(3, customer=ann)
    OrderFactory.create_batch(2)  # other customers'
    page = admin_client.get(reverse("admin:accounts_customer_change", args=[ann.pk])).content.decode()
    link = re.search(r'<a href="([^"]+)">3 orders</a>', page)[1]

    listed = admin_client.get(link.replace("&amp;", "&"))

    assert sorted(order.pk for order in listed.context["cl"].result_list) == sorted(o.pk for o in ann_orders)
    # The list says whose orders these are: its customer filter, chosen, names her.
    assert re.search(
        r'<li class="selected">\s*<a href="[^"]*customer=\d+[^"]*"[^>]*>Ann Lee</a>', listed.content.decode()
    )


@pytest.mark.parametrize("n", [3, 30])
def test_a_customers_orders_list_queries_do_not_grow(admin_client, django_assert_num_queries, n):
    ann = CustomerFactory()
    OrderFactory.create_batch(n, customer=ann)
    OrderFactory.create_batch(n)

    # user, the customer's name (the filter), filtered count, first and last order dates (date
    # hierarchy), days with orders in that month, page of orders joined to their customers
    with django_assert_num_queries(6):
        response = admin_client.get(reverse("admin:accounts_order_changelist"), {"customer": ann.pk})

    assert len(response.context["cl"].result_list) == n


@pytest.mark.parametrize("value", ["abc", "-1", "99999999999999999999", "1e3", "#1", ""])
def test_a_customer_filter_that_is_no_customer_lists_nothing_never_a_500(admin_client, value):
    OrderFactory()

    response = admin_client.get(reverse("admin:accounts_order_changelist"), {"customer": value})

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == ([] if value else list(Order.objects.all()))


def test_the_customer_filter_offers_no_list_of_every_customer(admin_client):
    OrderFactory.create_batch(3)

    page = admin_client.get(reverse("admin:accounts_order_changelist")).content.decode()

    assert "By customer" not in page


# --- The admin's name -----------------------------------------------------------------------


def test_the_admin_says_shopsite_administration(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()

    assert '<a href="/admin/">shopsite administration</a>' in page  # the header
    assert "<title>shopsite administration | shopsite administration</title>" in page
    assert "Django administration" not in page


def test_an_order_line_reads_as_its_quantity_and_product_name():
    item = OrderItemFactory(quantity=2, product=ProductFactory(name="Brass desk lamp"))

    assert str(item) == "2 x Brass desk lamp"


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
    # Each line's product is labelled and linked, from the product loaded with the line, and each
    # line reads as what was bought: "3 x Lamp 0", not a product's id.
    for item in items:
        assert f"{item.product.name} ({item.product.sku})" in page
        assert re.search(rf'<td class="original">\s*<p>\s*3 x {item.product.name}\s', page)
        assert reverse("admin:catalog_product_change", args=[item.product_id]) in page
    assert "59.97" in page  # 3 x 19.99, a line's subtotal
    # Read-only lines: no select of every product.
    assert '<select name="items-0-product"' not in page


def test_order_lines_total_status_and_times_are_read_only(admin_client):
    order = OrderFactory(status=OrderStatus.PAID, total=Decimal("39.98"))
    item = OrderItemFactory(order=order, quantity=2)
    url = reverse("admin:accounts_order_change", args=[order.pk])
    form = {
        "customer": order.customer_id,
        "status": OrderStatus.DELIVERED,
        "shipped_0": "2020-01-01",
        "shipped_1": "00:00:00",
        "created_0": "2030-01-01",
        "created_1": "00:00:00",
        "total": "0.01",
        "items-TOTAL_FORMS": "1",
        "items-INITIAL_FORMS": "1",
        "items-0-id": item.pk,
        "items-0-order": order.pk,
        "items-0-quantity": "9",
    }

    page = admin_client.get(url).content.decode()
    response = admin_client.post(url, form)

    for field in ("items-0-quantity", "total", "status", "shipped_0", "created_0"):
        assert f'name="{field}"' not in page
    assert response.status_code == 302
    order.refresh_from_db()
    item.refresh_from_db()
    assert (order.status, order.total, order.shipped, item.quantity) == (
        OrderStatus.PAID,
        Decimal("39.98"),
        None,
        2,
    )


def test_orders_cannot_be_added_in_admin(admin_client):
    assert admin_client.get(reverse("admin:accounts_order_add")).status_code == 403


def test_orders_cannot_be_deleted_in_admin_where_their_stock_would_not_come_back(admin_client):
    order = OrderFactory(status=OrderStatus.PAID)
    item = OrderItemFactory(order=order, quantity=2, product=ProductFactory(stock=3))

    page = admin_client.get(reverse("admin:accounts_order_delete", args=[order.pk]))
    posted = admin_client.post(reverse("admin:accounts_order_delete", args=[order.pk]), {"post": "yes"})
    bulk = _post_action(admin_client, "delete_selected", [order])

    assert (page.status_code, posted.status_code) == (403, 403)
    assert bulk.status_code == 302  # the admin's answer to an action it does not offer: nothing done
    actions = admin_client.get(reverse("admin:accounts_order_changelist")).context["action_form"]
    assert "delete_selected" not in [value for value, _ in actions.fields["action"].choices]
    assert Order.objects.filter(pk=order.pk).exists()
    assert Product.objects.get(pk=item.product_id).stock == 3


# --- The lifecycle's actions ---------------------------------------------------------------------


def _post_action(client, action: str, orders: list[Order]):
    return client.post(
        reverse("admin:accounts_order_changelist"),
        {"action": action, "_selected_action": [order.pk for order in orders], "index": 0},
    )


def _statuses(*orders: Order) -> list[str]:
    statuses = dict(Order.objects.values_list("pk", "status"))
    return [statuses[order.pk] for order in orders]


def _said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_change_list_offers_the_lifecycles_actions(admin_client):
    OrderFactory()

    response = admin_client.get(reverse("admin:accounts_order_changelist"))

    actions = [value for value, _ in response.context["action_form"].fields["action"].choices]
    assert {"mark_paid", "mark_shipped", "mark_delivered", "cancel"} <= set(actions)


def test_mark_paid_pays_pending_orders_only(admin_client):
    pending, cancelled = OrderFactory(status=OrderStatus.PENDING), OrderFactory(status=OrderStatus.CANCELLED)

    response = _post_action(admin_client, "mark_paid", [pending, cancelled])

    assert _said(response) == ["Marked 1 order paid; skipped 1 order that was not pending."]
    assert _statuses(pending, cancelled) == [OrderStatus.PAID, OrderStatus.CANCELLED]


def test_mark_shipped_ships_paid_orders_only_and_says_how_many(admin_client):
    pending = OrderFactory(status=OrderStatus.PENDING)
    paid = OrderFactory(status=OrderStatus.PAID)
    cancelled = OrderFactory(status=OrderStatus.CANCELLED)
    delivered = OrderFactory(status=OrderStatus.DELIVERED)

    response = _post_action(admin_client, "mark_shipped", [pending, paid, cancelled, delivered])

    assert response.status_code == 302
    assert _said(response) == ["Marked 1 order shipped; skipped 3 orders that were not paid."]
    assert _statuses(pending, paid, cancelled, delivered) == [
        OrderStatus.PENDING,  # not paid yet: it does not ship
        OrderStatus.SHIPPED,
        OrderStatus.CANCELLED,
        OrderStatus.DELIVERED,
    ]
    assert Order.objects.get(pk=paid.pk).shipped is not None
    assert Order.objects.get(pk=pending.pk).shipped is None


def test_mark_delivered_delivers_shipped_orders_only_and_keeps_their_shipped_time(admin_client):
    shipped, paid = OrderFactory(status=OrderStatus.SHIPPED), OrderFactory(status=OrderStatus.PAID)

    response = _post_action(admin_client, "mark_delivered", [shipped, paid])

    assert _said(response) == ["Marked 1 order delivered; skipped 1 order that was not shipped."]
    assert _statuses(shipped, paid) == [OrderStatus.DELIVERED, OrderStatus.PAID]
    assert Order.objects.get(pk=shipped.pk).shipped == shipped.shipped


def test_cancel_cancels_orders_not_yet_shipped_and_returns_their_stock(admin_client):
    lamp = ProductFactory(stock=5)
    paid = OrderFactory(status=OrderStatus.PAID)
    OrderItemFactory(order=paid, product=lamp, quantity=2)
    shipped = OrderFactory(status=OrderStatus.SHIPPED)
    OrderItemFactory(order=shipped, product=lamp, quantity=1)

    response = _post_action(admin_client, "cancel", [paid, shipped])

    assert _said(response) == [
        "Cancelled 1 order and returned their items to stock; skipped 1 order that was not pending or paid."
    ]
    assert _statuses(paid, shipped) == [OrderStatus.CANCELLED, OrderStatus.SHIPPED]
    assert Product.objects.get(pk=lamp.pk).stock == 7


def test_an_action_with_nothing_to_do_says_so(admin_client):
    cancelled = OrderFactory(status=OrderStatus.CANCELLED)

    response = _post_action(admin_client, "mark_shipped", [cancelled])

    assert _said(response) == ["Marked 0 orders shipped; skipped 1 order that was not paid."]
    assert _statuses(cancelled) == [OrderStatus.CANCELLED]


def test_an_action_over_all_filtered_orders_moves_only_those(admin_client):
    mine = CustomerFactory(email="ann@example.com")
    ann_orders = OrderFactory.create_batch(3, customer=mine, status=OrderStatus.PAID)
    someone_else = OrderFactory(status=OrderStatus.PAID)

    response = admin_client.post(
        reverse("admin:accounts_order_changelist") + "?q=ann%40example",
        {"action": "mark_shipped", "select_across": "1", "_selected_action": [ann_orders[0].pk], "index": 0},
    )

    assert response.status_code == 302
    assert _said(response) == ["Marked 3 orders shipped; skipped 0 orders that were not paid."]
    assert Order.objects.filter(customer=mine, status=OrderStatus.SHIPPED).count() == 3
    assert Order.objects.get(pk=someone_else.pk).status == OrderStatus.PAID
    assert Order.objects.get(pk=someone_else.pk).total == Decimal("39.98")


@pytest.mark.parametrize("n", [3, 30])
def test_cancel_action_queries_do_not_grow(admin_client, django_assert_num_queries, n):
    category = CategoryFactory()
    orders = [OrderFactory(status=OrderStatus.PAID) for _ in range(n)]
    for order in orders:
        OrderItemFactory(order=order, product=ProductFactory(category=category))

    # user, the change list's count of orders, how many are selected, then the cancellation:
    # savepoint, lock the orders, cancel them, their lines summed by product, lock the products,
    # return the stock, release; the primary's WAL position for read-your-writes
    with django_assert_num_queries(11):
        response = _post_action(admin_client, "cancel", orders)

    assert response.status_code == 302
    assert Order.objects.filter(status=OrderStatus.CANCELLED).count() == n
