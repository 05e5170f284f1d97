"""Helpers for the reports tests: shop data to aggregate, and views put back as migrations leave them."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import psycopg2
from django.db import connection
from django.utils import timezone

from accounts.models import Order
from reports.services import REFRESH_LOCK_KEY, VIEW_DEPENDENCIES, closed_tables, reports_refresh
from tests.factories import CategoryFactory, CustomerFactory, OrderFactory, OrderItemFactory, ProductFactory


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=timezone.get_current_timezone())


def make_sales(n: int, *, today: date | None = None, status: str = "paid") -> list[Order]:
    """Create n orders, one a day back from today, each of its own customer, each with two lines
    (1 x 10.00 and 2 x 5.00: 3 units, total 20.00) of the same two products of one category."""
    today = today or timezone.localdate()
    category = CategoryFactory()
    shirt, sock = ProductFactory.create_batch(2, category=category)
    orders = []
    for k in range(n):
        order = OrderFactory(
            customer=CustomerFactory(),
            status=status,
            total=Decimal("20.00"),
            created=noon(today - timedelta(days=k)),
        )
        OrderItemFactory(order=order, product=shirt, quantity=1, unit_price=Decimal("10.00"))
        OrderItemFactory(order=order, product=sock, quantity=2, unit_price=Decimal("5.00"))
        orders.append(order)
    return orders


def varied_shop(n: int) -> None:
    """Sell to n customers over the last 60 days and refresh the views, with ties in every column
    the reports sort by: customer k ("Ada k" when k is even, "Bob k" otherwise), who joined 7k days
    ago (modulo 60), has 1 + k % 3 sold
    orders, each of one line of 10.00 or 15.00 a unit, of six products ("Red 0", "Blue 1", ...) in
    two categories ("Shirts", "Socks")."""
    today = timezone.localdate()
    categories = [CategoryFactory(name="Shirts"), CategoryFactory(name="Socks")]
    products = [
        ProductFactory(category=categories[k % 2], name=f"{('Red', 'Blue')[k % 2]} {k}") for k in range(6)
    ]
    for k in range(n):
        joined = noon(today - timedelta(days=(7 * k) % 60))
        customer = CustomerFactory(name=f"{('Ada', 'Bob')[k % 2]} {k}", created=joined)
        for m in range(1 + k % 3):
            price = Decimal(10 + 5 * ((k + m) % 2))
            order = OrderFactory(
                customer=customer,
                status="paid",
                total=price * (1 + m),
                created=noon(today - timedelta(days=(5 * k + 17 * m) % 60)),
            )
            OrderItemFactory(order=order, product=products[(k + m) % 6], quantity=1 + m, unit_price=price)
    reports_refresh()


def empty_report_views() -> None:
    """Put the reports back as their migrations leave them: every materialized view unpopulated,
    the window empty, no closed day."""
    with connection.cursor() as cursor:
        for view in VIEW_DEPENDENCIES:
            cursor.execute(f"REFRESH MATERIALIZED VIEW {connection.ops.quote_name(view)} WITH NO DATA")
        for table in closed_tables():
            cursor.execute(f"DELETE FROM {table}")
        cursor.execute("DELETE FROM reports_reportwindow")
        cursor.execute("INSERT INTO reports_reportwindow (id, reopened) VALUES (1, '{}')")


def matviews() -> set[str]:
    """Return the names of the materialized views in the database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT matviewname FROM pg_matviews WHERE schemaname = current_schema()")
        return {name for (name,) in cursor.fetchall()}


@contextmanager
def refresh_lock_held():
    """Hold the refresh's advisory lock from another session, as a running refresh does: inside an
    open transaction (pg_advisory_xact_lock). A session-level lock taken through PgBouncer would
    stay on the pooled server connection after this client has gone, and stop every later refresh.
    """
    params = connection.get_connection_params()
    holder = psycopg2.connect(**{key: value for key, value in params.items() if key != "cursor_factory"})
    try:
        with holder.cursor() as cursor:  # not autocommit: this begins the transaction
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [REFRESH_LOCK_KEY])
        yield
    finally:
        holder.rollback()
        holder.close()
