"""Reads of the reports app: the report views and the refresh log, never the order tables."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, models
from django.db.models import QuerySet

from reports.models import (
    REPORT_MODELS,
    CategoryMonthly,
    CustomersDaily,
    CustomerValue,
    ProductSales,
    SalesDaily,
)
from shopsite.caching.keys import cache_key
from shopsite.caching.versioned import MISSING, get_or_build, values_of_version
from shopsite.db import async_pool
from shopsite.db.concurrent_reads import read_at_once
from shopsite.db.keyset import keyset_rows
from shopsite.db.timing import count_cache

logger = logging.getLogger(__name__)

DASHBOARD_NAMESPACE = "dashboard"
# A refresh bumps the namespace at once; the timeout bounds the memory of unused ranges.
DASHBOARD_CACHE_TIMEOUT = 15 * 60
# In every key: change it with the shape of a cached block, so a deploy never unpickles an old one.
DASHBOARD_BLOCKS_FORMAT = 1
TOP_ROWS = 10
KPI_PERIODS = (("Today", 1), ("Last 7 days", 7), ("Last 30 days", 30))
CSV_CHUNK_SIZE = 2_000  # rows per page of an export: one query each
# The dashboard's blocks and the views each reads: a block shows once all of them are populated,
# and its "data as of" is the oldest of their refreshes.
DASHBOARD_BLOCK_VIEWS: dict[str, tuple[type[models.Model], ...]] = {
    "kpis": (SalesDaily, CustomersDaily),
    "sales": (SalesDaily,),
    "top_products": (ProductSales,),
    "top_customers": (CustomerValue,),
    "categories": (CategoryMonthly,),
}


@dataclass(frozen=True)
class Freshness:
    view: str
    populated: bool
    refreshed: datetime | None  # when the newest logged refresh started: the data is as of then


@dataclass(frozen=True)
class Period:
    label: str
    days: int
    revenue: Decimal
    orders: int
    new_customers: int

    @property
    def average_order_value(self) -> Decimal | None:
        return (self.revenue / self.orders).quantize(Decimal("0.01")) if self.orders else None


@dataclass(frozen=True)
class DaySales:
    day: date
    orders: int
    revenue: Decimal


@dataclass(frozen=True)
class CategoryRow:
    category_id: int
    name: str
    revenue_by_month: list[Decimal]
    total: Decimal


@dataclass(frozen=True)
class CategoryMonths:
    months: list[date]
    rows: list[CategoryRow]  # the best-selling category first
    totals: list[Decimal]  # per month, over every category

    @property
    def total(self) -> Decimal:
        return sum(self.totals, Decimal(0))


@dataclass(frozen=True)
class DashboardFilters:
    date_from: date
    date_to: date
    orders_over: int  # top customers have more than this many orders


@dataclass(frozen=True)
class DashboardData:
    """Every block of the dashboard; a block is None while its views were never refreshed."""

    freshness: dict[str, Freshness]
    kpis: list[Period] | None
    sales: list[DaySales] | None
    top_products: list[dict] | None
    top_customers: list[dict] | None
    categories: CategoryMonths | None


def report_freshness(model: type[models.Model]) -> Freshness:
    """Return whether one report's view is populated and when it was last refreshed."""
    view = model._meta.db_table
    return reports_freshness([view])[view]


def reports_freshness(views: Sequence[str]) -> dict[str, Freshness]:
    """Return, in one query, whether each view is populated and when it was last refreshed."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT v.view, COALESCE(m.ispopulated, false), newest.started
            FROM unnest(%s::text[]) AS v(view)
            LEFT JOIN pg_matviews m ON m.matviewname = v.view AND m.schemaname = current_schema()
            LEFT JOIN LATERAL (
                SELECT started FROM reports_refreshlog r WHERE r.view = v.view ORDER BY started DESC LIMIT 1
            ) newest ON true
            """,
            [list(views)],
        )
        return {view: Freshness(view, populated, started) for view, populated, started in cursor.fetchall()}


def sales_kpis(*, today: date) -> list[Period]:
    """Return revenue, orders and new customers of today, the last 7 and the last 30 days."""
    return kpi_periods(today, list(_kpi_sales(today)), list(_kpi_customers(today)))


def _kpi_since(today: date) -> date:
    return today - timedelta(days=max(days for _, days in KPI_PERIODS))


def _kpi_sales(today: date) -> QuerySet:
    # The 30 daily rows, summed per period below: as cheap as SUM ... FILTER, and a plain queryset.
    return (
        SalesDaily.objects.filter(day__gt=_kpi_since(today), day__lte=today)
        .order_by()
        .values_list("day", "revenue", "orders")
    )


def _kpi_customers(today: date) -> QuerySet:
    return (
        CustomersDaily.objects.filter(day__gt=_kpi_since(today), day__lte=today)
        .order_by()
        .values_list("day", "new_customers")
    )


def kpi_periods(today: date, sales: Iterable[tuple], customers: Iterable[tuple]) -> list[Period]:
    """Sum (day, revenue, orders) and (day, new customers) rows into each of KPI_PERIODS."""
    periods = []
    for label, days in KPI_PERIODS:
        since = today - timedelta(days=days)
        within = [(revenue, orders) for day, revenue, orders in sales if day > since]
        revenue = sum((revenue for revenue, _ in within), Decimal(0))
        orders = sum(orders for _, orders in within)
        new = sum(count for day, count in customers if day > since)
        periods.append(Period(label, days, revenue, orders, new))
    return periods


def _days(date_from: date, date_to: date) -> Iterator[date]:
    # Ordinals, not date + timedelta: no OverflowError at date.max.
    return (date.fromordinal(n) for n in range(date_from.toordinal(), date_to.toordinal() + 1))


def months_between(date_from: date, date_to: date) -> list[date]:
    """Return the first day of every month from date_from's to date_to's."""
    first, last = date_from.year * 12 + date_from.month - 1, date_to.year * 12 + date_to.month - 1
    return [date(n // 12, n % 12 + 1, 1) for n in range(first, last + 1)]


def sales_by_day(*, date_from: date, date_to: date) -> list[DaySales]:
    """Return orders and revenue of every day of the range, 0 on days without sales."""
    return every_day(date_from, date_to, _sales_rows(date_from, date_to))


def _sales_rows(date_from: date, date_to: date) -> QuerySet:
    return (
        SalesDaily.objects.filter(day__gte=date_from, day__lte=date_to)
        .order_by()
        .values_list("day", "orders", "revenue")
    )


def every_day(date_from: date, date_to: date, rows: Iterable[tuple[date, int, Decimal]]) -> list[DaySales]:
    """Return (day, orders, revenue) rows as one DaySales a day of the range, 0 on missing days."""
    sold = {day: (orders, revenue) for day, orders, revenue in rows}
    return [DaySales(day, *sold.get(day, (0, Decimal(0)))) for day in _days(date_from, date_to)]


TOP_PRODUCT_FIELDS = ("product_id", "name", "sku", "category_name", "units", "revenue", "last_sold")
TOP_CUSTOMER_FIELDS = ("customer_id", "name", "email", "orders", "total_spent", "last_order")


def top_products(*, limit: int = TOP_ROWS) -> list[dict]:
    """Return the products with the most revenue, all time."""
    return as_dicts(TOP_PRODUCT_FIELDS, _top_products(limit))


def _top_products(limit: int) -> QuerySet:
    return ProductSales.objects.order_by("-revenue", "product_id").values_list(*TOP_PRODUCT_FIELDS)[:limit]


def top_customers(*, orders_over: int, limit: int = TOP_ROWS) -> list[dict]:
    """Return the customers who spent most, all time, among those with more than `orders_over` orders."""
    return as_dicts(TOP_CUSTOMER_FIELDS, _top_customers(orders_over, limit))


def _top_customers(orders_over: int, limit: int) -> QuerySet:
    return (
        CustomerValue.objects.filter(orders__gt=orders_over)
        .order_by("-total_spent", "customer_id")
        .values_list(*TOP_CUSTOMER_FIELDS)[:limit]
    )


def as_dicts(fields: Sequence[str], rows: Iterable[tuple]) -> list[dict]:
    """Return rows as `values(*fields)` gives them."""
    return [dict(zip(fields, row, strict=True)) for row in rows]


def category_revenue_by_month(*, date_from: date, date_to: date) -> CategoryMonths:
    """Return each category's revenue in every month the range touches, best-selling first."""
    months = months_between(date_from, date_to)
    return category_months(months, _category_rows(months))


def _category_rows(months: list[date]) -> QuerySet:
    return (
        CategoryMonthly.objects.filter(month__gte=months[0], month__lte=months[-1])
        .order_by()
        .values_list("category_id", "category_name", "month", "revenue")
    )


def category_months(months: list[date], rows: Iterable[tuple[int, str, date, Decimal]]) -> CategoryMonths:
    """Pivot (category id, name, month, revenue) rows into a row of months per category."""
    column = {month: n for n, month in enumerate(months)}
    by_category: dict[int, tuple[str, list[Decimal]]] = {}
    for category_id, name, month, revenue in rows:
        by_category.setdefault(category_id, (name, [Decimal(0)] * len(months)))[1][column[month]] = revenue
    categories = sorted(
        (
            CategoryRow(category_id, name, revenue, sum(revenue, Decimal(0)))
            for category_id, (name, revenue) in by_category.items()
        ),
        key=lambda row: (-row.total, row.name),
    )
    totals = [sum((row.revenue_by_month[n] for row in categories), Decimal(0)) for n in range(len(months))]
    return CategoryMonths(months, categories, totals)


@dataclass(frozen=True)
class Block:
    """A dashboard block: its cache key's parts, the querysets it reads (each as a list of tuples)
    and how their rows become the block."""

    name: str
    parts: tuple
    querysets: tuple[QuerySet, ...]
    shape: Callable[..., object]

    def build(self, rows: list[list[tuple]] | None = None) -> object:
        """The block from rows already read (in the querysets' order), or read now."""
        return self.shape(*(rows if rows is not None else [list(queryset) for queryset in self.querysets]))


def dashboard_blocks(*, filters: DashboardFilters, today: date) -> list[Block]:
    date_from, date_to = filters.date_from, filters.date_to
    months = months_between(date_from, date_to)
    return [
        Block(
            "kpis",
            ("kpis", today),
            (_kpi_sales(today), _kpi_customers(today)),
            lambda sales, customers: kpi_periods(today, sales, customers),
        ),
        Block(
            "sales",
            ("sales", date_from, date_to),
            (_sales_rows(date_from, date_to),),
            lambda rows: every_day(date_from, date_to, rows),
        ),
        Block(
            "top_products",
            ("products",),
            (_top_products(TOP_ROWS),),
            lambda rows: as_dicts(TOP_PRODUCT_FIELDS, rows),
        ),
        Block(
            "top_customers",
            ("customers", filters.orders_over),
            (_top_customers(filters.orders_over, TOP_ROWS),),
            lambda rows: as_dicts(TOP_CUSTOMER_FIELDS, rows),
        ),
        Block(
            "categories",
            ("categories", months[0], months[-1]),
            (_category_rows(months),),
            lambda rows: category_months(months, rows),
        ),
    ]


def dashboard_data(*, filters: DashboardFilters, today: date) -> DashboardData:
    """Return every block of the dashboard, each from Redis when cached, else from its views.

    Each block records the namespace version it was built in, which each refresh bumps, so a
    refresh shows at once. The cached blocks come in one round trip; the missing ones (a cold
    dashboard) read their views all at once, on the event loop, from a replica that has replayed
    the refresh (shopsite.db.concurrent_reads; DASHBOARD_CONCURRENT_READS, under ASGI, where the
    async pools are open; one by one elsewhere), then each is stored,
    one request building it while others wait for it. Without Redis, every block comes from the
    views.
    """

    def key_parts(*parts):
        return (f"f{DASHBOARD_BLOCKS_FORMAT}", *parts)

    def cached(build, *parts):
        return get_or_build(
            DASHBOARD_NAMESPACE, *key_parts(*parts), build=build, timeout=DASHBOARD_CACHE_TIMEOUT
        )

    freshness = cached(lambda: reports_freshness(list(REPORT_MODELS)), "freshness")
    # An unpopulated view cannot be read at all (PostgreSQL raises): its block says so instead.
    blocks = [
        block
        for block in dashboard_blocks(filters=filters, today=today)
        if all(freshness[model._meta.db_table].populated for model in DASHBOARD_BLOCK_VIEWS[block.name])
    ]
    keys = {block.name: cache_key(DASHBOARD_NAMESPACE, *key_parts(*block.parts)) for block in blocks}
    found = values_of_version(DASHBOARD_NAMESPACE, list(keys.values()))
    values, missing = {}, []
    for block in blocks:
        if (value := found[keys[block.name]]) is not MISSING:
            count_cache(hit=True)
            values[block.name] = value
        else:
            missing.append(block)
    # At once only where the pools are open (under ASGI): elsewhere each read would open a connection.
    at_once = len(missing) > 1 and settings.DASHBOARD_CONCURRENT_READS and async_pool.pools_open()
    rows = _read_at_once(missing) if at_once else {}
    for block in missing:
        values[block.name] = cached(lambda block=block: block.build(rows.get(block.name)), *block.parts)
    return DashboardData(freshness=freshness, **{name: values.get(name) for name in DASHBOARD_BLOCK_VIEWS})


def _read_at_once(blocks: list[Block]) -> dict[str, list[list[tuple]]]:
    """The blocks' rows read concurrently; {} (each block then reads its own) if that fails."""
    try:
        return read_at_once({block.name: list(block.querysets) for block in blocks})
    except (async_pool.PoolTimeout, *async_pool.UNREACHABLE) as error:
        logger.warning("dashboard blocks read one by one: the concurrent read failed (%s)", error)
        return {}


def report_rows(model: type[models.Model]) -> tuple[list[str], Iterator[tuple]]:
    """Return a report's column names and an iterator over all its rows, in the report's order,
    read a page at a time by key (shopsite.db.keyset): constant memory at any size, and no
    server-side cursor, which a transaction-pooling PgBouncer cannot keep."""
    columns = [field.attname for field in model._meta.concrete_fields]
    return columns, keyset_rows(model.objects.all(), columns, page_size=CSV_CHUNK_SIZE)
