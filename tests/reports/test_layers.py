"""The three layers give what a count of the orders themselves gives, for any range, at any time.

Every figure is checked against the orders counted in Python (`counted`): after days move from
the recent views into the closed tables, after orders of closed days change status or arrive
late, and with the open period (today) counted live.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Order, OrderItem, OrderStatus
from accounts.services import orders_transition
from reports import selectors
from reports.layers import whole_months
from reports.models import ClosedProductDay, ReportWindow
from reports.services import CLOSED_LAYERS, reports_refresh
from tests.conftest import fuzz_examples
from tests.factories import CategoryFactory, CustomerFactory, OrderFactory, OrderItemFactory, ProductFactory
from tests.reports.helpers import noon

pytestmark = pytest.mark.django_db

SOLD = {"paid", "shipped", "delivered"}


@dataclass
class Counted:
    """The figures of the range counted from the orders themselves."""

    sales: dict[date, tuple[int, Decimal]]
    products: dict[int, tuple[int, Decimal]]
    customers: dict[int, tuple[int, Decimal]]
    categories: dict[tuple[int, date], Decimal]


def counted(first: date, last: date) -> Counted:
    orders = Order.objects.filter(status__in=SOLD, created__date__gte=first, created__date__lte=last)
    sales: dict = defaultdict(lambda: (0, Decimal(0)))
    customers: dict = defaultdict(lambda: (0, Decimal(0)))
    for order in orders:
        day = timezone.localtime(order.created).date()
        sales[day] = (sales[day][0] + 1, sales[day][1] + order.total)
        customers[order.customer_id] = (
            customers[order.customer_id][0] + 1,
            customers[order.customer_id][1] + order.total,
        )
    products: dict = defaultdict(lambda: (0, Decimal(0)))
    categories: dict = defaultdict(Decimal)
    for item in OrderItem.objects.filter(order__in=orders).select_related("order", "product"):
        revenue = item.quantity * item.unit_price
        products[item.product_id] = (
            products[item.product_id][0] + item.quantity,
            products[item.product_id][1] + revenue,
        )
        month = timezone.localtime(item.order.created).date().replace(day=1)
        categories[(item.product.category_id, month)] += revenue
    return Counted(dict(sales), dict(products), dict(customers), dict(categories))


def reported(first: date, last: date, state) -> Counted:
    since = state.recent_until
    sales = {
        day.day: (day.orders, day.revenue)
        for day in selectors.sales_by_day(date_from=first, date_to=last, live_since=since)
        if day.orders
    }
    products = {
        row["product_id"]: (row["units"], row["revenue"])
        for row in selectors.top_products(date_from=first, date_to=last, limit=1000, live_since=since)
    }
    customers = {
        row["customer_id"]: (row["orders"], row["total_spent"])
        for row in selectors.top_customers(
            date_from=first, date_to=last, orders_over=0, limit=1000, live_since=since
        )
    }
    months = selectors.category_revenue_by_month(date_from=first, date_to=last, live_since=since)
    categories = {
        (row.category_id, month): revenue
        for row in months.rows
        for month, revenue in zip(months.months, row.revenue_by_month, strict=True)
        if revenue
    }
    return Counted(sales, products, customers, categories)


class Shop:
    """A few products in two categories, a few customers, orders placed on chosen days."""

    def __init__(self):
        categories = CategoryFactory.create_batch(2)
        self.products = [ProductFactory(category=categories[n % 2]) for n in range(4)]
        self.customers = CustomerFactory.create_batch(3)
        self.today = timezone.localdate()

    def order(self, days_ago: int, status: str, customer: int, lines: list[tuple[int, int]]) -> Order:
        lines = list({product: quantity for product, quantity in lines}.items())
        prices = [Decimal(10 + 7 * product) / 4 for product, _ in lines]
        total = sum(
            (price * quantity for price, (_, quantity) in zip(prices, lines, strict=True)), Decimal(0)
        )
        order = OrderFactory(
            customer=self.customers[customer],
            status=status,
            total=total,
            created=noon(self.today - timedelta(days=days_ago)),
        )
        for price, (product, quantity) in zip(prices, lines, strict=True):
            OrderItemFactory(order=order, product=self.products[product], quantity=quantity, unit_price=price)
        return order


ORDERS = st.lists(
    st.tuples(
        st.integers(0, 75),  # days ago
        st.sampled_from(["pending", "paid", "shipped", "delivered", "cancelled"]),
        st.integers(0, 2),  # customer
        st.lists(st.tuples(st.integers(0, 3), st.integers(1, 3)), min_size=1, max_size=3),
    ),
    min_size=1,
    max_size=12,
)


def assert_reports_match_the_orders(ranges: list[tuple[int, int]], today: date) -> None:
    state = selectors.reports_state()
    for a, b in ranges:
        first, last = today - timedelta(days=max(a, b)), today - timedelta(days=min(a, b))
        assert reported(first, last, state) == counted(first, last), (first, last, state)


@settings(
    max_examples=fuzz_examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    first_orders=ORDERS,
    later_orders=ORDERS,
    recent_days=st.tuples(st.integers(1, 40), st.integers(1, 40)),
    changes=st.lists(st.tuples(st.integers(0, 11), st.sampled_from(["paid", "cancelled"])), max_size=4),
    ranges=st.lists(st.tuples(st.integers(0, 80), st.integers(0, 80)), min_size=1, max_size=3),
)
def test_every_figure_is_what_the_orders_say_whatever_moved_between_refreshes(
    settings, first_orders, later_orders, recent_days, changes, ranges
):
    # Rolled back after each example: each starts from the empty shop the test began with.
    with transaction.atomic():
        shop = Shop()
        placed = [shop.order(*order) for order in first_orders]
        settings.REPORTS_RECENT_DAYS = max(recent_days)
        reports_refresh()
        assert_reports_match_the_orders(ranges, shop.today)

        # Time passes (fewer recent days: some move to the closed tables), orders change status,
        # new ones arrive, on closed days too (placed late, or by an import).
        for index, status in changes:
            orders_transition(order_ids=[placed[index % len(placed)].pk], to=OrderStatus(status))
        for order in later_orders:
            shop.order(*order)
        settings.REPORTS_RECENT_DAYS = min(recent_days)
        reports_refresh()
        assert_reports_match_the_orders(ranges, shop.today)
        transaction.set_rollback(True)


def test_an_order_placed_after_the_refresh_counts_at_once_today_and_at_the_next_refresh_on_its_day():
    shop = Shop()
    shop.order(3, "paid", 0, [(0, 1)])
    reports_refresh()
    shop.order(0, "paid", 1, [(1, 2)])  # today: live
    late = shop.order(20, "paid", 2, [(2, 1)])  # a closed day: counted once refreshed

    today = shop.today
    before = selectors.sales_by_day(date_from=today - timedelta(days=30), date_to=today)
    assert {day.day: day.orders for day in before if day.orders} == {today - timedelta(days=3): 1, today: 1}

    reports_refresh()
    after = selectors.sales_by_day(date_from=today - timedelta(days=30), date_to=today)
    assert {day.day: day.orders for day in after if day.orders} == {
        today - timedelta(days=20): 1,
        today - timedelta(days=3): 1,
        today: 1,
    }
    assert late.pk


def test_days_older_than_the_recent_days_move_into_the_closed_tables(settings):
    settings.REPORTS_RECENT_DAYS = 3
    shop = Shop()
    for days_ago in (0, 2, 5, 9):
        shop.order(days_ago, "paid", 0, [(0, 1)])

    reports_refresh()

    window = ReportWindow.objects.get()
    assert window.recent_until == shop.today  # counted to yesterday; today live
    assert window.closed_until == shop.today - timedelta(days=3)
    closed = set(ClosedProductDay.objects.values_list("day", flat=True))
    assert closed == {shop.today - timedelta(days=5), shop.today - timedelta(days=9)}


def test_the_month_and_total_sums_are_the_sums_of_their_days(settings):
    settings.REPORTS_RECENT_DAYS = 1
    shop = Shop()
    placed = [shop.order(days, "paid", days % 3, [(days % 4, 1 + days % 2)]) for days in range(2, 70, 3)]
    reports_refresh()
    orders_transition(order_ids=[order.pk for order in placed[::4]], to=OrderStatus.CANCELLED)
    shop.order(40, "paid", 1, [(1, 3)])

    reports_refresh()

    with connection.cursor() as cursor:
        for layer in CLOSED_LAYERS:
            sums = ", ".join(f"sum({measure})" for measure in layer.measures)
            keys = ", ".join(layer.keys)
            if layer.month_table:
                nonzero = " OR ".join(f"sum({m}) <> 0" for m in layer.measures)
                cursor.execute(
                    f"SELECT {keys}, date_trunc('month', day)::date, {sums} FROM {layer.day_table} "
                    f"GROUP BY 1, 2 HAVING {nonzero} ORDER BY 1, 2"
                )
                days = cursor.fetchall()
                cursor.execute(
                    f"SELECT {keys}, month, {', '.join(layer.measures)} FROM {layer.month_table} "
                    f"WHERE {' OR '.join(f'{m} <> 0' for m in layer.measures)} ORDER BY 1, 2"
                )
                assert cursor.fetchall() == days, layer.month_table
            if layer.total_table:
                cursor.execute(f"SELECT {keys}, {sums} FROM {layer.day_table} GROUP BY 1 ORDER BY 1")
                days = cursor.fetchall()
                cursor.execute(
                    f"SELECT {keys}, {', '.join(layer.measures)} FROM {layer.total_table} "
                    f"WHERE {' OR '.join(f'{m} <> 0' for m in layer.measures)} ORDER BY 1"
                )
                assert cursor.fetchall() == days, layer.total_table


@pytest.mark.parametrize(
    ("first", "last", "months"),
    [
        (date(2026, 3, 1), date(2026, 3, 31), (date(2026, 3, 1), date(2026, 4, 1))),
        (date(2026, 3, 2), date(2026, 3, 31), None),
        (date(2026, 3, 1), date(2026, 3, 30), None),
        (date(2025, 12, 7), date(2026, 12, 6), (date(2026, 1, 1), date(2026, 12, 1))),
        (date(2025, 11, 30), date(2026, 2, 1), (date(2025, 12, 1), date(2026, 2, 1))),
        (date(2026, 2, 1), date(2026, 2, 28), (date(2026, 2, 1), date(2026, 3, 1))),
        (date(9999, 12, 1), date(9999, 12, 31), None),
        (date(1, 1, 1), date(1, 1, 31), (date(1, 1, 1), date(1, 2, 1))),
    ],
)
def test_whole_months_are_those_entirely_inside_the_range(first, last, months):
    start, end = whole_months(first, last)

    if months is None:
        assert start == end
    else:
        assert (start, end) == months


@given(first=st.dates(), days=st.integers(0, 1200))
def test_whole_months_never_leave_the_range(first, days):
    last = date.fromordinal(min(first.toordinal() + days, date.max.toordinal()))

    start, end = whole_months(first, last)

    assert first <= start <= end
    assert start == end or (start.day == 1 and end.day == 1 and end.toordinal() <= last.toordinal() + 1)
    inside = Counter(
        d.month for d in (date.fromordinal(n) for n in range(start.toordinal(), end.toordinal()))
    )
    assert all(count >= 28 for count in inside.values())
