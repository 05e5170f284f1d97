"""Reports benchmark: live aggregates over the order tables vs the materialized views vs the warm
Redis cache, per dashboard block and per dashboard request, and the refresh time of each view.

    .venv/bin/python bench/reports.py [--runs 5] [--refresh-runs 3]

Runs against the benchmark database (`<name>_bench` on the stack's primary, migrated here, never
seeded here: `bench/ingest.py` fills it), in-process: Django's test Client through the real
middleware, server time read from the Server-Timing header the app adds to every response. Every
figure is the median of the runs. Writes a Markdown report to bench/results/reports.md.
"""

import argparse
import dataclasses
import os
import platform
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR / "bench"))
sys.path.insert(0, str(BASE_DIR))

from common import bench_database_url, save_results  # noqa: E402

SOLD = ("paid", "shipped", "delivered")
URL = "/admin/reports/dashboard/"


def median_ms(function, runs: int) -> float:
    """Return the median wall time of `function` in milliseconds, after one warm-up call."""
    function()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def rows(sql: str, params=()) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def start_of(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


# --- The dashboard's blocks computed live from the order tables: what the views replace ---------


def live_sales_kpis(*, today: date):
    from reports.selectors import KPI_PERIODS, Period

    since = today - timedelta(days=29)
    daily = rows(
        "SELECT (created AT TIME ZONE 'UTC')::date, count(*), sum(total) FROM accounts_order "
        "WHERE status IN %s AND created >= %s AND created < %s GROUP BY 1",
        [SOLD, start_of(since), start_of(today + timedelta(days=1))],
    )
    customers = rows(
        "SELECT (created AT TIME ZONE 'UTC')::date, count(*) FROM accounts_customer "
        "WHERE created >= %s AND created < %s GROUP BY 1",
        [start_of(since), start_of(today + timedelta(days=1))],
    )
    periods = []
    for label, days in KPI_PERIODS:
        first = today - timedelta(days=days - 1)
        periods.append(
            Period(
                label,
                days,
                sum((revenue for day, _, revenue in daily if day >= first), 0),
                sum(orders for day, orders, _ in daily if day >= first),
                sum(count for day, count in customers if day >= first),
            )
        )
    return periods


def live_sales_by_day(*, date_from: date, date_to: date):
    from reports.selectors import every_day

    return every_day(
        date_from,
        date_to,
        rows(
            "SELECT (created AT TIME ZONE 'UTC')::date, count(*), sum(total) FROM accounts_order "
            "WHERE status IN %s AND created >= %s AND created < %s GROUP BY 1",
            [SOLD, start_of(date_from), start_of(date_to + timedelta(days=1))],
        ),
    )


def live_top_products(*, limit: int = 10):
    names = ["product_id", "name", "sku", "category_name", "units", "revenue", "last_sold"]
    found = rows(
        "SELECT p.id, p.name, p.sku, c.name, sum(i.quantity), sum(i.quantity * i.unit_price), max(o.created) "
        "FROM accounts_orderitem i JOIN accounts_order o ON o.id = i.order_id "
        "JOIN catalog_product p ON p.id = i.product_id JOIN catalog_category c ON c.id = p.category_id "
        "WHERE o.status IN %s GROUP BY p.id, c.name ORDER BY 6 DESC, 1 LIMIT %s",
        [SOLD, limit],
    )
    return [dict(zip(names, row, strict=True)) for row in found]


def live_top_customers(*, orders_over: int, limit: int = 10):
    names = ["customer_id", "name", "email", "orders", "total_spent", "last_order"]
    found = rows(
        "SELECT c.id, c.name, c.email, count(*), sum(o.total), max(o.created) "
        "FROM accounts_order o JOIN accounts_customer c ON c.id = o.customer_id "
        "WHERE o.status IN %s GROUP BY c.id HAVING count(*) > %s ORDER BY 5 DESC, 1 LIMIT %s",
        [SOLD, orders_over, limit],
    )
    return [dict(zip(names, row, strict=True)) for row in found]


def live_category_revenue_by_month(*, date_from: date, date_to: date):
    from reports.selectors import category_months, months_between

    months = months_between(date_from, date_to)
    after = date(months[-1].year + months[-1].month // 12, months[-1].month % 12 + 1, 1)
    return category_months(
        months,
        rows(
            "SELECT c.id, c.name, date_trunc('month', o.created AT TIME ZONE 'UTC')::date, "
            "sum(i.quantity * i.unit_price) "
            "FROM accounts_orderitem i JOIN accounts_order o ON o.id = i.order_id "
            "JOIN catalog_product p ON p.id = i.product_id JOIN catalog_category c ON c.id = p.category_id "
            "WHERE o.status IN %s AND o.created >= %s AND o.created < %s GROUP BY 1, 2, 3",
            [SOLD, start_of(months[0]), start_of(after)],
        ),
    )


LIVE = {
    "sales_kpis": live_sales_kpis,
    "sales_by_day": live_sales_by_day,
    "top_products": live_top_products,
    "top_customers": live_top_customers,
    "category_revenue_by_month": live_category_revenue_by_month,
}

# The whole daily report over every order: the view's own query, run live, vs reading the view.
SALES_DAILY_LIVE = """
SELECT (o.created AT TIME ZONE 'UTC')::date AS day, count(*), COALESCE(sum(i.units), 0), sum(o.total),
       round(avg(o.total), 2)
FROM accounts_order o
LEFT JOIN (SELECT order_id, sum(quantity) AS units FROM accounts_orderitem GROUP BY order_id) i
    ON i.order_id = o.id
WHERE o.status IN ('paid', 'shipped', 'delivered')
GROUP BY 1
"""
SALES_DAILY_ORDERS_ONLY = """
SELECT (created AT TIME ZONE 'UTC')::date, count(*), sum(total) FROM accounts_order
WHERE status IN ('paid', 'shipped', 'delivered') GROUP BY 1
"""


def server_ms(response) -> tuple[float, int]:
    """Return the app's time and the query count from the response's Server-Timing header."""
    app, queries = 0.0, 0
    for entry in response["Server-Timing"].split(", "):
        name, *params = entry.split(";")
        values = dict(param.split("=", 1) for param in params)
        if name == "app":
            app = float(values["dur"])
        elif name.startswith("db-") and "dur" in values:  # db-<alias>, not db-route
            queries += int(values["desc"].strip('"').split()[0])
    return app, queries


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each read (median)")
    parser.add_argument("--refresh-runs", type=int, default=3, help="timed refreshes of each view (median)")
    args = parser.parse_args()

    os.environ.update(DATABASE_URL=bench_database_url(), REPLICA_DATABASE_URLS="", DEBUG="false")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopsite.settings.local")
    import django
    from django.conf import settings

    django.setup()
    # Keys of their own: the development server's dashboard (another database) shares this Redis.
    settings.CACHES["default"]["KEY_PREFIX"] = "shopsite-bench"
    from django.core.cache import cache
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from accounts.models import Order, User
    from reports import selectors
    from reports.forms import default_filters
    from reports.models import REPORT_MODELS
    from reports.services import reports_refresh, view_names
    from shopsite.caching.versioned import namespace_bump

    call_command("migrate", verbosity=0)
    orders = Order.objects.count()
    if orders < int(os.environ.get("BENCH_MIN_ORDERS", "100000")):
        sys.exit(f"the bench database has {orders:,} orders: fill it first (make bench)")

    # --- Refresh of each view: plain (what the first refresh does) and concurrent ------------
    reports_refresh()  # populated, whatever state the last run left
    refresh = {}
    for view in view_names():
        plain, concurrent = [], []
        for _ in range(args.refresh_runs):
            (done,) = reports_refresh(views=[view], concurrently=False)
            plain.append(done.duration.total_seconds() * 1000)
            (done,) = reports_refresh(views=[view])
            concurrent.append(done.duration.total_seconds() * 1000)
        refresh[view] = (done.rows, statistics.median(plain), statistics.median(concurrent))

    # --- Each block of the dashboard, default filters: live over the orders vs from the view --
    today = timezone.localdate()
    filters = default_filters(today=today)
    calls = {
        "sales_kpis": {"today": today},
        "sales_by_day": {"date_from": filters.date_from, "date_to": filters.date_to},
        "top_products": {},
        "top_customers": {"orders_over": filters.orders_over},
        "category_revenue_by_month": {"date_from": filters.date_from, "date_to": filters.date_to},
    }
    blocks = {}
    for name, kwargs in calls.items():
        live = median_ms(lambda name=name, kwargs=kwargs: LIVE[name](**kwargs), args.runs)
        view = median_ms(lambda name=name, kwargs=kwargs: getattr(selectors, name)(**kwargs), args.runs)
        blocks[name] = (live, view)
    whole_daily = (
        median_ms(lambda: rows(SALES_DAILY_LIVE), args.runs),
        median_ms(lambda: rows(SALES_DAILY_ORDERS_ONLY), args.runs),
        median_ms(lambda: list(selectors.SalesDaily.objects.values_list()), args.runs),
    )

    # --- One Redis GET of a dashboard block (the 30 days of the chart) -------------------------
    cache.set(
        "bench:sales", selectors.sales_by_day(date_from=filters.date_from, date_to=filters.date_to), 600
    )
    redis_gets = []
    for _ in range(1000):
        started = time.perf_counter()
        cache.get("bench:sales")
        redis_gets.append((time.perf_counter() - started) * 1_000_000)
    redis_get_us = statistics.median(redis_gets)

    # --- The dashboard request: server time, median of the runs ---------------------------------
    staff, _ = User.objects.get_or_create(
        username="bench-reports-staff", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client(HTTP_HOST="localhost")
    client.force_login(staff)

    def request(bump: bool) -> tuple[float, int]:
        if bump:
            namespace_bump(selectors.DASHBOARD_NAMESPACE)  # a cold cache, outside the timed request
        response = client.get(URL)
        assert response.status_code == 200, response.status_code
        return server_ms(response)

    def timed_requests(bump: bool) -> tuple[float, int]:
        request(bump)  # warm-up (and, unbumped, what fills the cache)
        timings = [request(bump) for _ in range(args.runs)]
        return statistics.median(ms for ms, _ in timings), timings[-1][1]

    requests = {
        "views, cold cache": timed_requests(bump=True),
        "warm Redis cache": timed_requests(bump=False),
    }
    # Live: every block computed from the orders instead of read from its view.
    blocks_of = selectors.dashboard_blocks
    live_of = {
        "kpis": "sales_kpis",
        "sales": "sales_by_day",
        "top_products": "top_products",
        "top_customers": "top_customers",
        "categories": "category_revenue_by_month",
    }

    def live_blocks(**kwargs):
        return [
            dataclasses.replace(
                block, querysets=(), shape=lambda name=live_of[block.name]: LIVE[name](**calls[name])
            )
            for block in blocks_of(**kwargs)
        ]

    selectors.dashboard_blocks = live_blocks
    try:
        requests["live aggregates over the orders"] = timed_requests(bump=True)
    finally:
        selectors.dashboard_blocks = blocks_of

    report = render(args, orders, refresh, blocks, whole_daily, redis_get_us, requests, REPORT_MODELS)
    figures = {
        "orders": orders,
        "live_vs_view_sales_daily": whole_daily[0] / whole_daily[2],
        "dashboard_ms": {name: ms for name, (ms, _queries) in requests.items()},
        "dashboard_queries": {name: queries for name, (_ms, queries) in requests.items()},
        "refresh_ms": {
            view: {"plain": plain, "concurrent": concurrent}
            for view, (_rows, plain, concurrent) in refresh.items()
        },
    }
    save_results("reports", report, figures)


def render(args, orders, refresh, blocks, whole_daily, redis_get_us, requests, report_models) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    lines = [
        "# Reports benchmark",
        "",
        f"Command: `.venv/bin/python bench/reports.py {' '.join(sys.argv[1:])}`".rstrip(),
        f"Machine: {os.cpu_count()} cores, {memory:.0f} GiB, {platform.platform()}, "
        f"Python {platform.python_version()}, PostgreSQL {pg_version}; load average at the end {load}",
        f"Data: {orders:,} orders in the bench database. Medians of {args.runs} runs "
        f"({args.refresh_runs} for refreshes), after a warm-up run.",
        "",
        "## The dashboard request (server time, default filters: the last 30 days)",
        "",
        "| dashboard built from | server time | queries |",
        "|---|---:|---:|",
    ]
    for mode in [
        "live aggregates over the orders",
        "views, cold cache",
        "warm Redis cache",
    ]:
        ms, queries = requests[mode]
        lines.append(f"| {mode} | {ms:,.1f} ms | {queries} |")
    lines += [
        "",
        "Server time is the app's own figure from the `Server-Timing` header (everything between the",
        "first middleware and the response, template included). Live: the same blocks computed from",
        "`accounts_order`/`accounts_orderitem` (what the app never does); cold: each block read from its",
        "view (the namespace bumped before each request), one after another: in-process, as under WSGI,",
        "where no async pool is open (section 8 has the cold dashboard under ASGI, its blocks at once);",
        "warm: every block from Redis, one query (the user).",
        "",
        "## Each block: live aggregate vs reading its view",
        "",
        "| block | live over the orders | from the view | faster |",
        "|---|---:|---:|---:|",
    ]
    for name, (live, view) in blocks.items():
        lines.append(f"| {name} | {live:,.2f} ms | {view:,.2f} ms | {live / view:,.0f}x |")
    daily_live, daily_orders_only, daily_view = whole_daily
    lines += [
        f"| whole `sales_daily` (every day, with items) | {daily_live:,.2f} ms | {daily_view:,.2f} ms "
        f"| {daily_live / daily_view:,.0f}x |",
        f"| daily GROUP BY of the orders alone (no items) | {daily_orders_only:,.2f} ms | | |",
        "",
        f"One Redis GET of a cached block (30 days of the chart): {redis_get_us:,.0f} us.",
        "",
        "## Refresh of each view",
        "",
        "| view | rows | plain (the first refresh) | concurrent (readers keep reading) |",
        "|---|---:|---:|---:|",
    ]
    for view, (count, plain, concurrent) in refresh.items():
        lines.append(f"| {view} | {count:,} | {plain:,.0f} ms | {concurrent:,.0f} ms |")
    total_plain = sum(plain for _, plain, _ in refresh.values())
    total_concurrent = sum(concurrent for _, _, concurrent in refresh.values())
    lines += [
        f"| all {len(report_models)} | | {total_plain:,.0f} ms | {total_concurrent:,.0f} ms |",
        "",
        "Each refresh timed alone (`refresh_reports --view NAME`); the time is the REFRESH statement",
        "itself, without the row count and the log that `refresh_reports` adds.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
