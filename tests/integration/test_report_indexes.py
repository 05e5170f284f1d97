"""EXPLAIN shows each dashboard block reads the layers through the indexes built for it, on enough
data for the planner to choose them: a range of the closed tables' keys (day or month first), the
recent views' unique keys, and the orders' `created` index for the open period; never a scan of a
whole closed table or of the orders."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from reports import selectors
from reports.services import closed_tables
from tests.factories import CategoryFactory, CustomerFactory, OrderFactory, OrderItemFactory, ProductFactory
from tests.reports.helpers import noon

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

DAYS = 730  # two years
PRODUCTS = 300
CUSTOMERS = 400


@pytest.fixture
def big_layers():
    """Two years of closed days of 300 products and 400 customers, their months and totals, 40,000 orders
    (a few today), the window set as a refresh leaves it, every table analysed."""
    today = timezone.localdate()
    category = CategoryFactory()
    products = ProductFactory.create_batch(5, category=category)
    customers = CustomerFactory.create_batch(5)
    for n in range(5):  # today's: the open period
        OrderItemFactory(order=OrderFactory(customer=customers[n], created=noon(today)), product=products[n])
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_customer (name, email, level, is_active, created) "
            "SELECT 'C' || n, 'c' || n || '@example.com', 'bronze', true, now() - n * interval '1 hour' "
            "FROM generate_series(1, 20000) n"
        )
        cursor.execute(
            "INSERT INTO accounts_order (customer_id, status, total, created, updated) "
            "SELECT %s, 'paid', 10, now() - (n %% %s + 3) * interval '1 day', now() - interval '1 day' "
            "FROM generate_series(1, 40000) n",
            [customers[0].pk, DAYS],
        )
        cursor.execute(
            "INSERT INTO accounts_orderitem (order_id, product_id, quantity, unit_price) "
            "SELECT id, %s, 1, 10 FROM accounts_order WHERE created < now() - interval '2 days'",
            [products[0].pk],
        )
        closed_until = today - timedelta(days=2)
        days = "SELECT %s::date - d AS day FROM generate_series(1, %s) d"
        cursor.execute(
            f"INSERT INTO reports_closed_product_day SELECT day, p, 1, 10 FROM ({days}) days, "
            "generate_series(1, %s) p",
            [closed_until, DAYS, PRODUCTS],
        )
        cursor.execute(
            f"INSERT INTO reports_closed_customer_day SELECT day, c, 1, 10 FROM ({days}) days, "
            "generate_series(1, %s) c",
            [closed_until, DAYS, CUSTOMERS],
        )
        cursor.execute(
            f"INSERT INTO reports_closed_category_day SELECT day, c, 1, 10 FROM ({days}) days, "
            "generate_series(1, 12) c",
            [closed_until, DAYS],
        )
        cursor.execute(
            f"INSERT INTO reports_closed_sales_day SELECT day, 10, 10, 100 FROM ({days}) days",
            [closed_until, DAYS],
        )
        for layer, key in (("product", "product_id"), ("customer", "customer_id")):
            measures = "units, revenue" if layer == "product" else "orders, revenue"
            cursor.execute(
                f"INSERT INTO reports_closed_{layer}_month SELECT date_trunc('month', day)::date, {key}, "
                f"{', '.join(f'sum({m})' for m in measures.split(', '))} FROM reports_closed_{layer}_day "
                "GROUP BY 1, 2"
            )
        cursor.execute(
            "UPDATE reports_reportwindow SET closed_until = %s, recent_until = %s, refreshed = now()",
            [closed_until, today],
        )
        for view in ("reports_product_recent", "reports_sales_recent", "reports_customer_recent"):
            cursor.execute(f"REFRESH MATERIALIZED VIEW {view}")
        cursor.execute("REFRESH MATERIALIZED VIEW reports_category_recent")
        cursor.execute("REFRESH MATERIALIZED VIEW reports_new_customers")
        for table in [*closed_tables(), "accounts_order", "accounts_orderitem", "accounts_customer"]:
            cursor.execute(f"ANALYZE {table}")
        cursor.execute("ANALYZE reports_reportwindow")
    return today


def plan(read) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {read.sql}", read.params)
        return "\n".join(row[0] for row in cursor.fetchall())


def reads(today, days: int):
    """Each block's read over the `days` days ending today."""
    first = today - timedelta(days=days - 1)
    return {
        "sales": selectors._sales_rows(first, today, today),
        "new customers": selectors._new_customer_rows(first, today, today),
        "top products": selectors._top_products(first, today, 10, today),
        "top customers": selectors._top_customers(first, today, 5, 10, today),
        "categories": selectors._category_rows(first, today, today),
    }


# One row a day (a dozen for the categories), or a row a month: a year of them is a few thousand
# rows at any size of the shop, which the planner may rightly read whole.
SMALL = {
    "reports_closed_sales_day",
    "reports_closed_category_day",
    "reports_closed_product_month",
    "reports_closed_customer_month",
}


def test_no_block_scans_a_whole_table_of_days_or_the_orders(big_layers):
    big = set(closed_tables()) - SMALL
    for days in (30, 365):
        for block, read in reads(big_layers, days).items():
            found = plan(read)
            for table in [*big, "accounts_order ", "accounts_orderitem", "accounts_customer "]:
                assert f"Seq Scan on {table}" not in found, (block, days, found)
            # The open period by the orders' (or customers') creation time.
            assert "accounts_order_created" in found or "customer_created" in found, (block, days, found)


def test_the_days_of_a_range_outside_whole_months_are_a_range_of_the_day_key(big_layers):
    for days in (30, 365):
        blocks = reads(big_layers, days)
        for block, index in (
            ("top products", "reports_closed_product_day_pkey"),
            ("top customers", "reports_closed_customer_day_pkey"),
        ):
            found = plan(blocks[block])
            assert index in found, (block, days, found)


def test_the_top_customers_last_order_is_one_probe_of_their_newest_orders(big_layers):
    found = plan(reads(big_layers, 365)["top customers"])

    assert "order_customer_newest" in found, found


def test_the_refresh_finds_changed_orders_by_their_updated_index(big_layers):
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN SELECT DISTINCT (created AT TIME ZONE 'UTC')::date FROM accounts_order "
            "WHERE updated >= now() - interval '1 hour' AND created < now() - interval '2 days'"
        )
        found = "\n".join(row[0] for row in cursor.fetchall())

    assert "order_updated" in found, found
