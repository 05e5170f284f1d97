"""Reads of the reports app: the layers of sold orders (reports/layers.py) and the refresh log.

The dashboard reads closed and recent days from their tables and views, and the open period
(today, or since the last refresh) live from the orders: one statement per block, cached in
Redis. A block over closed days only is cached until the next refresh; one that reaches the open
period for DASHBOARD_LIVE_SECONDS at most, and until an order is placed or changes status.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, models
from django.utils import timezone

from accounts.services import ORDERS_NAMESPACE
from reports.layers import (
    CATEGORIES,
    CUSTOMERS,
    LIVE_SINCE,
    PRODUCTS,
    RECENT_UNTIL,
    SALES,
    SOLD,
    days_sold,
    range_params,
)
from reports.models import ClosedSalesDay
from shopsite.caching.keys import cache_key
from shopsite.caching.versioned import MISSING, get_or_build, values_of_versions
from shopsite.db import async_pool
from shopsite.db.concurrent_reads import read_at_once
from shopsite.db.raw import RawRead
from shopsite.db.timing import count_cache

logger = logging.getLogger(__name__)

DASHBOARD_NAMESPACE = "dashboard"
# A refresh bumps the namespace at once; the timeout bounds the memory of unused ranges.
DASHBOARD_CACHE_TIMEOUT = 15 * 60
# In every key: change it with the shape of a cached block, so a deploy never unpickles an old one.
DASHBOARD_BLOCKS_FORMAT = 2
TOP_ROWS = 10
KPI_PERIODS = (("Today", 1), ("Last 7 days", 7), ("Last 30 days", 30))
# The materialized views of the reports (reports.services.VIEW_DEPENDENCIES), by name.
LAYER_VIEWS = (
    "reports_product_recent",
    "reports_sales_recent",
    "reports_customer_recent",
    "reports_category_recent",
    "reports_new_customers",
)
DASHBOARD_BLOCKS = ("kpis", "sales", "top_products", "top_customers", "categories")


@dataclass(frozen=True)
class Freshness:
    view: str
    populated: bool
    refreshed: datetime | None  # when the newest refresh began: the data is as of then


@dataclass(frozen=True)
class ReportsState:
    """Where the layers stand: what a page says is "as of" the refresh and what is live."""

    populated: bool  # every view was refreshed at least once
    refreshed: datetime | None  # when the last refresh began
    closed_until: date | None
    recent_until: date | None  # from this day on, figures are counted live

    @property
    def last_counted_day(self) -> date | None:
        """The last day the refresh counted; the days after it are counted live."""
        return self.recent_until - timedelta(days=1) if self.recent_until else None

    def is_live(self, last: date) -> bool:
        """Whether a range ending on `last` reaches the open period."""
        return self.recent_until is not None and last >= self.recent_until


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
    """Every block of the dashboard; a block is None while the reports were never refreshed."""

    state: ReportsState
    kpis: list[Period] | None
    sales: list[DaySales] | None
    top_products: list[dict] | None
    top_customers: list[dict] | None
    categories: CategoryMonths | None
    counted_at: dict[str, datetime]  # when each block was counted (a live one: its live figures)
    live: dict[str, bool]  # whether each block reaches the open period


def reports_state() -> ReportsState:
    """Return the window of the layers and whether the views were ever refreshed, in one query."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT w.closed_until, w.recent_until, w.refreshed, "
            "(SELECT count(*) FROM pg_matviews m WHERE m.schemaname = current_schema() "
            " AND m.matviewname = ANY(%s) AND m.ispopulated) "
            "FROM (SELECT 1) one LEFT JOIN reports_reportwindow w ON true",
            [list(LAYER_VIEWS)],
        )
        closed_until, recent_until, refreshed, populated = cursor.fetchone()
    readable = populated == len(LAYER_VIEWS) and recent_until is not None
    return ReportsState(readable, refreshed, closed_until, recent_until)


def report_freshness(model: type[models.Model]) -> Freshness:
    """Return whether one admin report list can be read and since when its data is."""
    view = model._meta.db_table
    return reports_freshness([view])[view]


def reports_freshness(views: Sequence[str]) -> dict[str, Freshness]:
    """Return, in one query, whether each view (a materialized view of the layers, or an admin
    report list over them) can be read, and when its data was last refreshed."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT v.view,
                   CASE WHEN m.matviewname IS NOT NULL THEN m.ispopulated
                        ELSE (SELECT bool_and(ispopulated) FROM pg_matviews
                              WHERE schemaname = current_schema() AND matviewname = ANY(%s))
                             AND EXISTS (SELECT FROM reports_reportwindow WHERE recent_until IS NOT NULL)
                   END,
                   CASE WHEN m.matviewname IS NOT NULL THEN newest.started
                        ELSE (SELECT refreshed FROM reports_reportwindow) END
            FROM unnest(%s::text[]) AS v(view)
            LEFT JOIN pg_matviews m ON m.matviewname = v.view AND m.schemaname = current_schema()
            LEFT JOIN LATERAL (
                SELECT started FROM reports_refreshlog r WHERE r.view = v.view ORDER BY started DESC LIMIT 1
            ) newest ON true
            """,
            [list(LAYER_VIEWS), list(views)],
        )
        return {
            view: Freshness(view, bool(populated), refreshed)
            for view, populated, refreshed in cursor.fetchall()
        }


def _raw(sql: str, params: dict) -> RawRead:
    # Routed like the reports' own tables: a replica, or the primary for an admin request.
    return RawRead(sql, params, model=ClosedSalesDay)


def _sales_rows(first: date, last: date, live_since: date | None) -> RawRead:
    """(day, orders, revenue) of every day of the range with sales."""
    sql = f"SELECT day, sum(orders)::bigint, sum(revenue) FROM ({days_sold(SALES)}) sold GROUP BY day"
    return _raw(sql, range_params(first, last, live_since=live_since))


def _new_customer_rows(first: date, last: date, live_since: date | None) -> RawRead:
    """(day, new customers) of every day of the range with some: counted until the end of the
    recent days by the refresh (reports_new_customers), live from there."""
    sql = f"""
        SELECT day, sum(new)::bigint FROM (
            SELECT day, new_customers AS new FROM reports_new_customers
            WHERE day >= %(first)s AND day <= %(last)s AND day < {RECENT_UNTIL}
            UNION ALL
            SELECT (c.created AT TIME ZONE 'UTC')::date, 1 FROM accounts_customer c
            WHERE c.created >= %(live_from)s AND c.created >= GREATEST({LIVE_SINCE}, %(first_moment)s)
              AND c.created < %(after_moment)s
        ) counted GROUP BY day
    """
    return _raw(sql, range_params(first, last, live_since=live_since))


TOP_PRODUCT_FIELDS = ("product_id", "name", "sku", "category_name", "units", "revenue")
TOP_CUSTOMER_FIELDS = ("customer_id", "name", "email", "orders", "total_spent", "last_order")


def _top_products(first: date, last: date, limit: int, live_since: date | None) -> RawRead:
    sql = f"""
        SELECT t.product_id, p.name, p.sku, c.name, t.units, t.revenue
        FROM (
            SELECT product_id, sum(units)::bigint AS units, sum(revenue) AS revenue
            FROM ({days_sold(PRODUCTS)}) sold
            GROUP BY product_id
            HAVING sum(units) > 0
            ORDER BY revenue DESC, product_id
            LIMIT %(limit)s
        ) t
        JOIN catalog_product p ON p.id = t.product_id
        JOIN catalog_category c ON c.id = p.category_id
        ORDER BY t.revenue DESC, t.product_id
    """
    return _raw(sql, {**range_params(first, last, live_since=live_since), "limit": limit})


def _top_customers(first: date, last: date, orders_over: int, limit: int, live_since: date | None) -> RawRead:
    # The last order of each of the few customers shown: order_customer_newest, one probe each.
    sql = f"""
        SELECT t.customer_id, c.name, c.email, t.orders, t.spent, latest.created
        FROM (
            SELECT customer_id, sum(orders)::bigint AS orders, sum(revenue) AS spent
            FROM ({days_sold(CUSTOMERS)}) sold
            GROUP BY customer_id
            HAVING sum(orders) > %(orders_over)s
            ORDER BY spent DESC, customer_id
            LIMIT %(limit)s
        ) t
        JOIN accounts_customer c ON c.id = t.customer_id
        LEFT JOIN LATERAL (
            SELECT o.created FROM accounts_order o
            WHERE o.customer_id = t.customer_id AND o.created >= %(first_moment)s
              AND o.created < %(after_moment)s AND o.status IN {SOLD}
            ORDER BY o.created DESC LIMIT 1
        ) latest ON true
        ORDER BY t.spent DESC, t.customer_id
    """
    params = range_params(first, last, live_since=live_since)
    return _raw(sql, {**params, "orders_over": orders_over, "limit": limit})


def _category_rows(first: date, last: date, live_since: date | None) -> RawRead:
    """(category id, name, month, revenue) of the range, the months cut to it."""
    sql = f"""
        SELECT m.category_id, c.name, m.month, m.revenue
        FROM (
            SELECT category_id, date_trunc('month', day)::date AS month, sum(revenue) AS revenue
            FROM ({days_sold(CATEGORIES)}) sold
            GROUP BY 1, 2
        ) m
        JOIN catalog_category c ON c.id = m.category_id
    """
    return _raw(sql, range_params(first, last, live_since=live_since))


def sales_kpis(*, today: date, live_since: date | None = None) -> list[Period]:
    """Return revenue, orders and new customers of today, the last 7 and the last 30 days."""
    first = _kpi_first(today)
    sales, customers = _sales_rows(first, today, live_since), _new_customer_rows(first, today, live_since)
    return kpi_periods(today, sales.rows(), customers.rows())


def _kpi_first(today: date) -> date:
    return today - timedelta(days=max(days for _, days in KPI_PERIODS) - 1)


def kpi_periods(today: date, sales: Iterable[tuple], customers: Iterable[tuple]) -> list[Period]:
    """Sum (day, orders, revenue) and (day, new customers) rows into each of KPI_PERIODS."""
    sales, customers = list(sales), list(customers)
    periods = []
    for label, days in KPI_PERIODS:
        since = today - timedelta(days=days)
        within = [(orders, revenue) for day, orders, revenue in sales if since < day <= today]
        revenue = sum((revenue for _, revenue in within), Decimal(0))
        orders = sum(orders for orders, _ in within)
        new = sum(count for day, count in customers if since < day <= today)
        periods.append(Period(label, days, revenue, orders, new))
    return periods


def _days(date_from: date, date_to: date) -> Iterator[date]:
    # Ordinals, not date + timedelta: no OverflowError at date.max.
    return (date.fromordinal(n) for n in range(date_from.toordinal(), date_to.toordinal() + 1))


def months_between(date_from: date, date_to: date) -> list[date]:
    """Return the first day of every month from date_from's to date_to's."""
    first, last = date_from.year * 12 + date_from.month - 1, date_to.year * 12 + date_to.month - 1
    return [date(n // 12, n % 12 + 1, 1) for n in range(first, last + 1)]


def sales_by_day(*, date_from: date, date_to: date, live_since: date | None = None) -> list[DaySales]:
    """Return orders and revenue of every day of the range, 0 on days without sales."""
    return every_day(date_from, date_to, _sales_rows(date_from, date_to, live_since).rows())


def every_day(date_from: date, date_to: date, rows: Iterable[tuple[date, int, Decimal]]) -> list[DaySales]:
    """Return (day, orders, revenue) rows as one DaySales a day of the range, 0 on missing days."""
    sold = {day: (orders, revenue) for day, orders, revenue in rows}
    return [DaySales(day, *sold.get(day, (0, Decimal(0)))) for day in _days(date_from, date_to)]


def top_products(
    *, date_from: date, date_to: date, limit: int = TOP_ROWS, live_since: date | None = None
) -> list[dict]:
    """Return the products with the most revenue in the range."""
    return as_dicts(TOP_PRODUCT_FIELDS, _top_products(date_from, date_to, limit, live_since).rows())


def top_customers(
    *, date_from: date, date_to: date, orders_over: int, limit: int = TOP_ROWS, live_since: date | None = None
) -> list[dict]:
    """Return the customers who spent most in the range, among those with more than
    `orders_over` orders in it."""
    read = _top_customers(date_from, date_to, orders_over, limit, live_since)
    return as_dicts(TOP_CUSTOMER_FIELDS, read.rows())


def as_dicts(fields: Sequence[str], rows: Iterable[tuple]) -> list[dict]:
    """Return rows as `values(*fields)` gives them."""
    return [dict(zip(fields, row, strict=True)) for row in rows]


def category_revenue_by_month(
    *, date_from: date, date_to: date, live_since: date | None = None
) -> CategoryMonths:
    """Return each category's revenue in every month the range touches (only the range's days of
    them), best-selling first."""
    rows = _category_rows(date_from, date_to, live_since).rows()
    return category_months(months_between(date_from, date_to), rows)


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
    """A dashboard block: its cache key's parts, the reads it makes (each giving a list of
    tuples), how their rows become the block, and whether it reaches the open period."""

    name: str
    parts: tuple
    reads: tuple[RawRead, ...]
    shape: Callable[..., object]
    live: bool

    def build(self, rows: list[list[tuple]] | None = None) -> tuple[datetime, object]:
        """The block, and when it was counted, from rows already read (in the reads' order), or
        read now."""
        rows = rows if rows is not None else [read.rows() for read in self.reads]
        return timezone.now(), self.shape(*rows)


def dashboard_blocks(*, filters: DashboardFilters, today: date, state: ReportsState) -> list[Block]:
    date_from, date_to, orders_over = filters.date_from, filters.date_to, filters.orders_over
    months = months_between(date_from, date_to)
    kpi_first, since = _kpi_first(today), state.recent_until
    ranged = state.is_live(date_to)
    return [
        Block(
            "kpis",
            ("kpis", today),
            (_sales_rows(kpi_first, today, since), _new_customer_rows(kpi_first, today, since)),
            lambda sales, customers: kpi_periods(today, sales, customers),
            state.is_live(today),
        ),
        Block(
            "sales",
            ("sales", date_from, date_to),
            (_sales_rows(date_from, date_to, since),),
            lambda rows: every_day(date_from, date_to, rows),
            ranged,
        ),
        Block(
            "top_products",
            ("products", date_from, date_to),
            (_top_products(date_from, date_to, TOP_ROWS, since),),
            lambda rows: as_dicts(TOP_PRODUCT_FIELDS, rows),
            ranged,
        ),
        Block(
            "top_customers",
            ("customers", date_from, date_to, orders_over),
            (_top_customers(date_from, date_to, orders_over, TOP_ROWS, since),),
            lambda rows: as_dicts(TOP_CUSTOMER_FIELDS, rows),
            ranged,
        ),
        Block(
            "categories",
            ("categories", date_from, date_to),
            (_category_rows(date_from, date_to, since),),
            lambda rows: category_months(months, rows),
            ranged,
        ),
    ]


def _key_parts(block: Block) -> tuple:
    # A live block is a different entry from the same block counted once the day has closed.
    return (f"f{DASHBOARD_BLOCKS_FORMAT}", "live" if block.live else "closed", *block.parts)


def _cache_rules(block: Block) -> dict:
    """How long a block stays cached, and which other namespace it depends on."""
    if block.live:
        return {"timeout": settings.DASHBOARD_LIVE_SECONDS, "also": (ORDERS_NAMESPACE,)}
    return {"timeout": DASHBOARD_CACHE_TIMEOUT, "also": ()}


def dashboard_data(*, filters: DashboardFilters, today: date) -> DashboardData:
    """Return every block of the dashboard, each from Redis when cached, else from the layers.

    The state of the layers comes first (cached until the next refresh), then every cached block
    in one round trip; the missing ones (a cold dashboard) read at once
    on the event loop, from a replica that has replayed everything committed before
    (shopsite.db.concurrent_reads; DASHBOARD_CONCURRENT_READS, under ASGI where the async pools
    are open; one by one elsewhere), then each is stored, one request building it while others
    wait for it. Without Redis, every block is read from the database.
    """
    state = get_or_build(
        DASHBOARD_NAMESPACE,
        f"f{DASHBOARD_BLOCKS_FORMAT}",
        "state",
        build=reports_state,
        timeout=DASHBOARD_CACHE_TIMEOUT,
    )
    if not state.populated:
        # A view never refreshed cannot be read (PostgreSQL raises): the page says so instead.
        return DashboardData(state, None, None, None, None, None, {}, {})
    blocks = dashboard_blocks(filters=filters, today=today, state=state)
    keys = {block.name: cache_key(DASHBOARD_NAMESPACE, *_key_parts(block)) for block in blocks}
    cached = values_of_versions(
        DASHBOARD_NAMESPACE, {keys[block.name]: _cache_rules(block)["also"] for block in blocks}
    )
    found = {name: cached[key] for name, key in keys.items()}
    values, missing = {}, []
    for block in blocks:
        if found[block.name] is not MISSING:
            count_cache(hit=True)
            values[block.name] = found[block.name]
        else:
            missing.append(block)
    # At once only where the pools are open (under ASGI): elsewhere each read would open a connection.
    at_once = len(missing) > 1 and settings.DASHBOARD_CONCURRENT_READS and async_pool.pools_open()
    rows = _read_at_once(missing) if at_once else {}
    for block in missing:
        values[block.name] = get_or_build(
            DASHBOARD_NAMESPACE,
            *_key_parts(block),
            build=lambda block=block: block.build(rows.get(block.name)),
            **_cache_rules(block),
        )
    return DashboardData(
        state=state,
        **{name: values[name][1] for name in DASHBOARD_BLOCKS},
        counted_at={name: values[name][0] for name in DASHBOARD_BLOCKS},
        live={block.name: block.live for block in blocks},
    )


def _read_at_once(blocks: list[Block]) -> dict[str, list[list[tuple]]]:
    """The blocks' rows read concurrently; {} (each block then reads its own) if that fails."""
    try:
        return read_at_once({block.name: list(block.reads) for block in blocks})
    except (async_pool.PoolTimeout, *async_pool.UNREACHABLE) as error:
        logger.warning("dashboard blocks read one by one: the concurrent read failed (%s)", error)
        return {}
