"""The dashboard is current: today's orders without a refresh, every block for the chosen days."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts.models import OrderStatus
from accounts.services import order_place, orders_transition
from reports.selectors import DASHBOARD_BLOCKS, DASHBOARD_NAMESPACE
from reports.services import reports_refresh
from tests.factories import CategoryFactory, CustomerFactory, OrderFactory, OrderItemFactory, ProductFactory
from tests.reports.helpers import make_sales, noon

pytestmark = pytest.mark.django_db

URL = "/admin/reports/dashboard/"


def days(n: int):
    return timezone.localdate() - timedelta(days=n)


def dated(first: int, last: int) -> dict:
    """The dashboard's query string for the days from `first` to `last` days ago."""
    return {"date_from": f"{days(first):%Y-%m-%d}", "date_to": f"{days(last):%Y-%m-%d}"}


def test_an_order_placed_a_moment_ago_counts_without_a_refresh_even_with_a_warm_cache(
    admin_client, django_capture_on_commit_callbacks
):
    make_sales(5)
    reports_refresh()
    assert admin_client.get(URL).context["data"].kpis[0].orders == 1  # cached now
    product = ProductFactory(price=Decimal("12.50"))

    with django_capture_on_commit_callbacks(execute=True):
        order_place(customer=CustomerFactory(), lines={product.pk: 2}, prices={product.pk: product.price})

    data = admin_client.get(URL).context["data"]
    today, week, _ = data.kpis
    assert (today.orders, today.revenue) == (2, Decimal("45.00"))
    assert week.orders == 6
    assert data.sales[-1].orders == 2
    assert product.pk in [row["product_id"] for row in data.top_products]


def test_an_order_cancelled_today_leaves_the_figures_at_once(
    admin_client, django_capture_on_commit_callbacks
):
    orders = make_sales(3)
    reports_refresh()
    assert admin_client.get(URL).context["data"].kpis[0].orders == 1

    with django_capture_on_commit_callbacks(execute=True):
        orders_transition(order_ids=[orders[0].pk], to=OrderStatus.CANCELLED)

    assert admin_client.get(URL).context["data"].kpis[0].orders == 0


def test_a_block_of_past_days_stays_cached_when_orders_change_and_a_live_one_does_not(
    admin_client, django_assert_num_queries, django_capture_on_commit_callbacks
):
    orders = make_sales(10)
    reports_refresh()
    past = dated(9, 1)
    admin_client.get(URL, past)

    with django_capture_on_commit_callbacks(execute=True):
        orders_transition(order_ids=[orders[0].pk], to=OrderStatus.CANCELLED)

    # user; the KPIs, which end today (sales, new customers): the four blocks of past days are cached.
    with django_assert_num_queries(3):
        response = admin_client.get(URL, past)
    assert response.context["data"].kpis[0].orders == 0


def test_a_live_block_is_cached_for_a_short_while_only(admin_client, settings):
    settings.DASHBOARD_LIVE_SECONDS = 7
    make_sales(3)
    reports_refresh()
    admin_client.get(URL)

    keys = cache.keys(f"*{DASHBOARD_NAMESPACE}:*")
    ttls = sorted(cache.ttl(key) for key in keys)
    # The blocks (live, reaching today) for 7 s; the state of the layers until the next refresh.
    assert len([ttl for ttl in ttls if 0 < ttl <= 7]) == len(DASHBOARD_BLOCKS)
    assert ttls[-1] > 7


def test_top_products_customers_and_categories_follow_the_chosen_days(admin_client):
    inside, outside = CategoryFactory(name="Inside"), CategoryFactory(name="Outside")
    kept, dropped = ProductFactory(category=inside), ProductFactory(category=outside)
    ada, bob = CustomerFactory(name="Ada"), CustomerFactory(name="Bob")
    for k in range(3):  # Ada: three orders within the days chosen
        order = OrderFactory(customer=ada, total=Decimal("10.00"), created=noon(days(5 + k)))
        OrderItemFactory(order=order, product=kept, quantity=1, unit_price=Decimal("10.00"))
    for k in range(6):  # Bob: more, and bigger, but before them
        order = OrderFactory(customer=bob, total=Decimal("99.00"), created=noon(days(40 + k)))
        OrderItemFactory(order=order, product=dropped, quantity=9, unit_price=Decimal("11.00"))
    reports_refresh()

    data = admin_client.get(URL, {**dated(20, 2), "orders_over": 1}).context["data"]

    assert [row["product_id"] for row in data.top_products] == [kept.pk]
    assert [(row["name"], row["orders"], row["total_spent"]) for row in data.top_customers] == [
        ("Ada", 3, Decimal("30.00"))
    ]
    assert [row.name for row in data.categories.rows] == ["Inside"]
    assert data.categories.total == Decimal("30.00")
    assert data.top_customers[0]["last_order"] == noon(days(5))


def test_more_than_n_orders_counts_the_orders_within_the_chosen_days(admin_client):
    loyal = CustomerFactory(name="Loyal")
    for k in range(8):  # eight orders, three of them within the last ten days
        OrderFactory(customer=loyal, total=Decimal("5.00"), created=noon(days(3 * k + 2)))
    reports_refresh()

    within = admin_client.get(URL, {**dated(9, 0), "orders_over": 2}).context["data"].top_customers
    fewer = admin_client.get(URL, {**dated(9, 0), "orders_over": 3}).context["data"].top_customers
    longer = admin_client.get(URL, {**dated(30, 0), "orders_over": 3}).context["data"].top_customers

    assert [(row["name"], row["orders"]) for row in within] == [("Loyal", 3)]
    assert fewer == []
    assert [(row["name"], row["orders"]) for row in longer] == [("Loyal", 8)]


def test_categories_by_month_count_only_the_chosen_days_of_a_month(admin_client):
    today = timezone.localdate()
    first_of_month = today.replace(day=1)
    if (today - first_of_month).days < 2:
        first_of_month = (first_of_month - timedelta(days=1)).replace(day=1)
    product = ProductFactory()
    for day in (first_of_month, first_of_month + timedelta(days=1)):
        order = OrderFactory(total=Decimal("7.00"), created=noon(day))
        OrderItemFactory(order=order, product=product, quantity=1, unit_price=Decimal("7.00"))
    reports_refresh()
    query = {"date_from": f"{first_of_month + timedelta(days=1):%Y-%m-%d}", "date_to": f"{today:%Y-%m-%d}"}

    categories = admin_client.get(URL, query).context["data"].categories

    assert categories.total == Decimal("7.00")  # the month's first day is not in the range
