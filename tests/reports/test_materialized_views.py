"""The report views: what they count, their unique keys, and migrations that create and drop them."""

import importlib
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from accounts.models import OrderStatus
from accounts.services import orders_transition
from reports.models import (
    REPORT_MODELS,
    CategoryMonthly,
    CustomersDaily,
    CustomerValue,
    ProductSales,
    ReportWindow,
    SalesDaily,
)
from reports.services import VIEW_DEPENDENCIES, closed_tables, reports_refresh
from tests.factories import CustomerFactory, OrderFactory, OrderItemFactory, ProductFactory
from tests.reports.helpers import make_sales, matviews, noon

pytestmark = pytest.mark.django_db

UNIQUE_KEYS = """
    SELECT m.matviewname, i.indexrelid::regclass::text,
           array_agg(a.attname ORDER BY a.attnum)
    FROM pg_matviews m
    JOIN pg_indexes x ON x.schemaname = m.schemaname AND x.tablename = m.matviewname
    JOIN pg_index i ON i.indexrelid = (quote_ident(x.schemaname) || '.' || quote_ident(x.indexname))::regclass
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
    WHERE m.schemaname = current_schema()
      AND i.indisunique AND i.indisvalid AND i.indexprs IS NULL AND i.indpred IS NULL
    GROUP BY 1, 2
"""


def unique_keys() -> dict[str, list[list[str]]]:
    """Return each materialized view's unique indexes usable by a concurrent refresh: plain
    columns, no expression, no WHERE clause."""
    keys: dict[str, list[list[str]]] = {view: [] for view in matviews()}
    with connection.cursor() as cursor:
        cursor.execute(UNIQUE_KEYS)
        for view, _index, columns in cursor.fetchall():
            keys[view].append(columns)
    return keys


def edge_cases():
    """Create what could leave NULLs in a view: an order without lines, a product sold only in a
    cancelled order, a customer without orders, and orders of every status."""
    today = timezone.localdate()
    OrderFactory(status="paid", total=Decimal("0"), created=noon(today))
    OrderItemFactory(order=OrderFactory(status="cancelled", created=noon(today)))
    CustomerFactory()
    for status in ["pending", "paid", "shipped", "delivered", "cancelled"]:
        OrderItemFactory(order=OrderFactory(status=status, created=noon(today - timedelta(days=3))))


def test_every_materialized_view_has_a_unique_index_on_columns_that_are_never_null():
    edge_cases()
    make_sales(3)
    reports_refresh()

    keys = unique_keys()
    assert set(keys) == set(VIEW_DEPENDENCIES)
    for view, indexes in keys.items():
        assert indexes, f"{view} has no unique index on plain columns: REFRESH CONCURRENTLY would fail"
        # PostgreSQL cannot mark a view's column NOT NULL: check the data over the edge cases.
        for columns in indexes:
            nulls = " OR ".join(f"{connection.ops.quote_name(column)} IS NULL" for column in columns)
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(view)} WHERE {nulls}")
                assert cursor.fetchone()[0] == 0, f"{view} has NULLs in its unique key {columns}"


def test_no_column_of_any_report_is_null_over_the_edge_cases():
    edge_cases()
    reports_refresh()

    for view, model in REPORT_MODELS.items():
        columns = [field.column for field in model._meta.concrete_fields]
        nulls = " OR ".join(f"{connection.ops.quote_name(column)} IS NULL" for column in columns)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(view)} WHERE {nulls}")
            assert cursor.fetchone()[0] == 0, view


# Each admin list and the definition it had when it aggregated every order at each refresh (0002,
# 0003), without the columns the lists no longer have.
FIRST_DEFINITIONS = [
    ("reports_sales_daily", "0003_report_views_aggregate_first", "SALES_DAILY", "*"),
    ("reports_customers_daily", "0002_materialized_views", "CUSTOMERS_DAILY", "*"),
    (
        "reports_product_sales",
        "0002_materialized_views",
        "PRODUCT_SALES",
        "product_id, name, sku, category_id, category_name, units, revenue, average_unit_price",
    ),
    (
        "reports_customer_value",
        "0003_report_views_aggregate_first",
        "CUSTOMER_VALUE",
        "customer_id, name, email, orders, total_spent",
    ),
    ("reports_category_monthly", "0003_report_views_aggregate_first", "CATEGORY_MONTHLY", "*"),
]


def rows_differing(view: str, migration: str, definition: str, columns: str) -> tuple[int, int, int]:
    """Return how many rows the view has, and how many of the first definition's it misses and
    adds (as multisets)."""
    first = importlib.import_module(f"reports.migrations.{migration}")
    query = re.sub(r"CREATE MATERIALIZED VIEW \w+ AS|WITH NO DATA", "", getattr(first, definition))
    query = f"SELECT {columns} FROM ({query}) first"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {view}")
        rows = cursor.fetchone()[0]
        cursor.execute(f"SELECT count(*) FROM (({query}) EXCEPT ALL (SELECT {columns} FROM {view})) missing")
        missing = cursor.fetchone()[0]
        cursor.execute(f"SELECT count(*) FROM ((SELECT {columns} FROM {view}) EXCEPT ALL ({query})) extra")
        extra = cursor.fetchone()[0]
    return rows, missing, extra


@pytest.mark.parametrize(("view", "migration", "definition", "columns"), FIRST_DEFINITIONS)
def test_each_list_holds_the_rows_its_first_definition_counted_from_every_order(
    settings, view, migration, definition, columns
):
    settings.REPORTS_RECENT_DAYS = 2
    edge_cases()
    orders = make_sales(9)  # closed days, recent days, and today (live)
    reports_refresh()
    make_sales(1)  # today
    CustomerFactory()  # a new customer of today
    assert rows_differing(view, migration, definition, columns)[1:] == (0, 0)  # today is live

    orders_transition(order_ids=[orders[6].pk], to=OrderStatus.CANCELLED)  # a closed day's order
    make_sales(2, today=timezone.localdate() - timedelta(days=5))  # placed late on closed days
    reports_refresh()
    rows, missing, extra = rows_differing(view, migration, definition, columns)
    assert rows > 0
    assert (missing, extra) == (0, 0)


def test_the_refresh_order_knows_every_view_and_what_each_reads():
    assert set(VIEW_DEPENDENCIES) == {view for view in matviews() if view.startswith("reports_")}
    with connection.cursor() as cursor:
        # The materialized views each view's query reads, as PostgreSQL recorded them.
        cursor.execute("""
            SELECT DISTINCT v.relname, d.relname
            FROM pg_rewrite r
            JOIN pg_class v ON v.oid = r.ev_class AND v.relkind = 'm'
            JOIN pg_depend dep ON dep.classid = 'pg_rewrite'::regclass AND dep.objid = r.oid
                              AND dep.refclassid = 'pg_class'::regclass
            JOIN pg_class d ON d.oid = dep.refobjid AND d.relkind = 'm' AND d.oid <> v.oid
        """)
        reads = cursor.fetchall()
    for view, read in reads:
        assert read in VIEW_DEPENDENCIES[view], f"{view} reads {read}: refresh it first"


def test_sales_daily_counts_paid_shipped_and_delivered_orders_only():
    today = timezone.localdate()
    for status in ["pending", "paid", "shipped", "delivered", "cancelled"]:
        order = OrderFactory(status=status, total=Decimal("30.00"), created=noon(today))
        OrderItemFactory(order=order, quantity=3, unit_price=Decimal("10.00"))
    OrderFactory(status="paid", total=Decimal("0.00"), created=noon(today))  # no lines: 0 items
    reports_refresh()

    row = SalesDaily.objects.get()
    assert (row.day, row.orders, row.items, row.revenue) == (today, 4, 9, Decimal("90.00"))
    assert row.average_order_value == Decimal("22.50")


def test_sales_daily_puts_an_order_on_its_utc_day():
    today = timezone.localdate()
    make_sales(3, today=today)
    reports_refresh()

    assert list(SalesDaily.objects.values_list("day", "orders", "items", "revenue")) == [
        (today - timedelta(days=k), 1, 3, Decimal("20.00")) for k in range(3)
    ]


def test_product_sales_sums_units_and_revenue_of_sold_orders():
    orders = make_sales(3)
    unsold = ProductFactory()
    OrderItemFactory(order=OrderFactory(status="cancelled"), product=unsold)
    reports_refresh()

    rows = {row.name: row for row in ProductSales.objects.all()}
    shirt = orders[0].items.get(quantity=1).product
    assert unsold.name not in rows
    assert rows[shirt.name].units == 3
    assert rows[shirt.name].revenue == Decimal("30.00")
    assert rows[shirt.name].average_unit_price == Decimal("10.00")
    assert rows[shirt.name].category_name == shirt.category.name


def test_customer_value_counts_each_customers_sold_orders():
    customer = CustomerFactory(name="Ada")
    today = timezone.localdate()
    for k, status in enumerate(["paid", "delivered", "cancelled"]):
        OrderFactory(
            customer=customer, status=status, total=Decimal("10.00"), created=noon(today - timedelta(days=k))
        )
    reports_refresh()

    row = CustomerValue.objects.get()
    assert (row.name, row.orders, row.total_spent) == ("Ada", 2, Decimal("20.00"))


def test_category_monthly_sums_by_category_and_month():
    today = timezone.localdate()
    make_sales(2, today=today.replace(day=1) + timedelta(days=1))
    reports_refresh()

    row = CategoryMonthly.objects.get()
    assert (row.month, row.units, row.revenue) == (today.replace(day=1), 6, Decimal("40.00"))
    assert row.id == f"{today:%Y-%m}/{row.category_id}"


def test_customers_daily_counts_new_customers_by_day():
    today = timezone.localdate()
    CustomerFactory.create_batch(2, created=noon(today))
    CustomerFactory(created=noon(today - timedelta(days=1)))
    reports_refresh()

    assert list(CustomersDaily.objects.values_list("day", "new_customers")) == [
        (today, 2),
        (today - timedelta(days=1), 1),
    ]


def report_relations() -> set[str]:
    """Return the reports' tables, views and materialized views in the database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relkind IN ('r', 'v', 'm') AND relname LIKE 'reports\\_%'"
            " AND relnamespace = current_schema()::regnamespace"
        )
        return {name for (name,) in cursor.fetchall()}


@pytest.mark.django_db(transaction=True)
def test_migrating_reports_to_zero_drops_every_view_and_table_then_back_recreates_them():
    relations = report_relations()
    assert {"reports_refreshlog", "reports_reportwindow", *closed_tables(), *REPORT_MODELS} <= relations
    assert set(VIEW_DEPENDENCIES) <= matviews()

    call_command("migrate", "reports", "0003", verbosity=0)
    assert not {"reports_reportwindow", *closed_tables(), *VIEW_DEPENDENCIES} & report_relations()
    assert set(REPORT_MODELS) <= matviews()  # 0003's materialized views, back

    call_command("migrate", "reports", "zero", verbosity=0)
    assert not report_relations()

    call_command("migrate", "reports", verbosity=0)
    assert report_relations() == relations
    assert all(unique_keys()[view] for view in VIEW_DEPENDENCIES)
    assert ReportWindow.objects.count() == 1
