"""Reports benchmark: live aggregates over the order tables vs the layers (closed tables, recent
views, the open period live) vs the warm Redis cache, per dashboard block and per dashboard
request, for the last 30 days and a one-year range; and what a refresh costs: the routine one
(nothing changed but the day), one after orders of closed days changed, and the first count of all
history (`--rebuild`).

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


def live_top_products(*, date_from: date, date_to: date, limit: int = 10):
    names = ["product_id", "name", "sku", "category_name", "units", "revenue"]
    found = rows(
        "SELECT p.id, p.name, p.sku, c.name, sum(i.quantity), sum(i.quantity * i.unit_price) "
        "FROM accounts_orderitem i JOIN accounts_order o ON o.id = i.order_id "
        "JOIN catalog_product p ON p.id = i.product_id JOIN catalog_category c ON c.id = p.category_id "
        "WHERE o.status IN %s AND o.created >= %s AND o.created < %s "
        "GROUP BY p.id, c.name ORDER BY 6 DESC, 1 LIMIT %s",
        [SOLD, start_of(date_from), start_of(date_to + timedelta(days=1)), limit],
    )
    return [dict(zip(names, row, strict=True)) for row in found]


def live_top_customers(*, date_from: date, date_to: date, orders_over: int, limit: int = 10):
    names = ["customer_id", "name", "email", "orders", "total_spent", "last_order"]
    found = rows(
        "SELECT c.id, c.name, c.email, count(*), sum(o.total), max(o.created) "
        "FROM accounts_order o JOIN accounts_customer c ON c.id = o.customer_id "
        "WHERE o.status IN %s AND o.created >= %s AND o.created < %s "
        "GROUP BY c.id HAVING count(*) > %s ORDER BY 5 DESC, 1 LIMIT %s",
        [SOLD, start_of(date_from), start_of(date_to + timedelta(days=1)), orders_over, limit],
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


def block_arguments(filters, today: date) -> dict[str, dict]:
    """Return the arguments of each block's selector (and of its live aggregate) for the filters."""
    dates = {"date_from": filters.date_from, "date_to": filters.date_to}
    return {
        "sales_kpis": {"today": today},
        "sales_by_day": dates,
        "top_products": dates,
        "top_customers": {**dates, "orders_over": filters.orders_over},
        "category_revenue_by_month": dates,
    }


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each read (median)")
    parser.add_argument("--refresh-runs", type=int, default=5, help="timed routine refreshes (median)")
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
    from django.db import connection, transaction
    from django.test import Client
    from django.utils import timezone

    from accounts.models import Order, User
    from reports import selectors
    from reports.forms import default_filters
    from reports.models import SalesDaily
    from reports.services import CLOSED_DAYS_LOG, reports_refresh
    from shopsite.caching.versioned import namespace_bump

    call_command("migrate", verbosity=0)
    orders = Order.objects.count()
    if orders < int(os.environ.get("BENCH_MIN_ORDERS", "100000")):
        sys.exit(f"the bench database has {orders:,} orders: fill it first (make bench)")

    # --- What a refresh costs -------------------------------------------------------------------
    reports_refresh()  # up to today, whatever state the last run left
    rebuild_ms = timed(lambda: reports_refresh(rebuild=True))  # the first count of all history
    steps = {}

    def routine():
        for done in reports_refresh():
            steps.setdefault(done.view, []).append(done.duration.total_seconds() * 1000)

    routine_ms = [timed(routine) for _ in range(args.refresh_runs)]

    def after_changes(orders: int, days: int) -> float:
        """A refresh after `orders` orders of `days` closed days changed since the last one (late
        payments, cancellations): the median of its runs, each in a transaction rolled back."""
        times = []
        for _ in range(args.refresh_runs):
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(
                        "UPDATE accounts_order SET updated = statement_timestamp() WHERE id IN ("
                        " SELECT id FROM accounts_order"
                        " WHERE created >= (SELECT closed_until FROM reports_reportwindow) - %s"
                        " AND created < (SELECT closed_until FROM reports_reportwindow)"
                        " ORDER BY random() LIMIT %s)",
                        [timedelta(days=days), orders],
                    )
                times.append(timed(reports_refresh))
                transaction.set_rollback(True)
        return statistics.median(times)

    changed = {(10, 30): after_changes(10, 30), (100, 365): after_changes(100, 365)}
    with connection.cursor() as cursor:
        cursor.execute("SELECT closed_until, recent_until FROM reports_reportwindow")
        window = cursor.fetchone()
    refresh = {
        "routine_ms": statistics.median(routine_ms),
        "changed_ms": changed,
        "rebuild_ms": rebuild_ms,
        "steps_ms": {view: statistics.median(times) for view, times in steps.items()},
        "window": window,
    }

    # --- Each block of the dashboard: live over the orders vs from the layers ----------------------
    today = timezone.localdate()
    since = selectors.reports_state().recent_until
    ranges = {
        "the last 30 days": default_filters(today=today),
        "one year": dataclasses.replace(default_filters(today=today), date_from=today - timedelta(days=364)),
    }
    blocks = {}
    for label, filters in ranges.items():
        for name, kwargs in block_arguments(filters, today).items():
            live = median_ms(lambda name=name, kwargs=kwargs: LIVE[name](**kwargs), args.runs)
            selector = getattr(selectors, name)
            layered = median_ms(lambda s=selector, kwargs=kwargs: s(**kwargs, live_since=since), args.runs)
            blocks[(label, name)] = (live, layered)
    whole_daily = (
        median_ms(lambda: rows(SALES_DAILY_LIVE), args.runs),
        median_ms(lambda: rows(SALES_DAILY_ORDERS_ONLY), args.runs),
        median_ms(lambda: list(SalesDaily.objects.values_list()), args.runs),
    )

    # --- One Redis GET of a dashboard block (the 30 days of the chart) -------------------------
    thirty = ranges["the last 30 days"]
    cache.set("bench:sales", selectors.sales_by_day(date_from=thirty.date_from, date_to=thirty.date_to), 600)
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

    def request(bump: bool, query: dict) -> tuple[float, int]:
        if bump:
            namespace_bump(selectors.DASHBOARD_NAMESPACE)  # a cold cache, outside the timed request
        response = client.get(URL, query)
        assert response.status_code == 200, response.status_code
        return server_ms(response)

    def timed_requests(bump: bool, query: dict) -> tuple[float, int]:
        request(bump, query)  # warm-up (and, unbumped, what fills the cache)
        timings = [request(bump, query) for _ in range(args.runs)]
        return statistics.median(ms for ms, _ in timings), timings[-1][1]

    requests = {}
    for label, filters in ranges.items():
        query = {"date_from": filters.date_from.isoformat(), "date_to": filters.date_to.isoformat()}
        requests[(label, "layers, cold cache")] = timed_requests(True, query)
        requests[(label, "warm Redis cache")] = timed_requests(False, query)
    # Live: every block computed from the orders instead of read from the layers.
    blocks_of = selectors.dashboard_blocks
    live_of = {
        "kpis": "sales_kpis",
        "sales": "sales_by_day",
        "top_products": "top_products",
        "top_customers": "top_customers",
        "categories": "category_revenue_by_month",
    }

    def live_blocks(*, filters, today, state):
        kwargs = block_arguments(filters, today)
        return [
            dataclasses.replace(
                block,
                reads=(),
                shape=lambda name=live_of[block.name]: LIVE[name](**kwargs[name]),
            )
            for block in blocks_of(filters=filters, today=today, state=state)
        ]

    selectors.dashboard_blocks = live_blocks
    try:
        for label, filters in ranges.items():
            query = {"date_from": filters.date_from.isoformat(), "date_to": filters.date_to.isoformat()}
            requests[(label, "live aggregates over the orders")] = timed_requests(True, query)
    finally:
        selectors.dashboard_blocks = blocks_of

    report = render(args, orders, refresh, blocks, whole_daily, redis_get_us, requests, CLOSED_DAYS_LOG)
    figures = {
        "orders": orders,
        "live_vs_view_sales_daily": whole_daily[0] / whole_daily[2],
        "dashboard_ms": {f"{label}: {mode}": ms for (label, mode), (ms, _q) in requests.items()},
        "dashboard_queries": {f"{label}: {mode}": q for (label, mode), (_ms, q) in requests.items()},
        "cold_one_year_ms": requests[("one year", "layers, cold cache")][0],
        "warm_queries": requests[("the last 30 days", "warm Redis cache")][1],
        "routine_refresh_ms": refresh["routine_ms"],
        "changed_refresh_ms": {f"{orders} orders, {days} days": ms for (orders, days), ms in changed.items()},
        "rebuild_ms": refresh["rebuild_ms"],
    }
    save_results("reports", report, figures)


def render(args, orders, refresh, blocks, whole_daily, redis_get_us, requests, closed_days_log) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    closed_until, recent_until = refresh["window"]
    lines = [
        "# Reports benchmark",
        "",
        f"Command: `.venv/bin/python bench/reports.py {' '.join(sys.argv[1:])}`".rstrip(),
        f"Machine: {os.cpu_count()} cores, {memory:.0f} GiB, {platform.platform()}, "
        f"Python {platform.python_version()}, PostgreSQL {pg_version}; load average at the end {load}",
        f"Data: {orders:,} orders in the bench database. Medians of {args.runs} runs "
        f"({args.refresh_runs} for refreshes), after a warm-up run. Closed days before {closed_until}, "
        f"recent days to {recent_until}, live from then.",
        "",
        "## What a refresh costs",
        "",
        "| refresh | time |",
        "|---|---:|",
        f"| routine: nothing changed since the last one but the day | {refresh['routine_ms']:,.0f} ms |",
        *(
            f"| {orders} orders of the last {days} closed days changed since the last one "
            f"(their days counted again) | {ms:,.0f} ms |"
            for (orders, days), ms in refresh["changed_ms"].items()
        ),
        "| the first count of all history (`refresh_reports --rebuild`, once) "
        f"| {refresh['rebuild_ms']:,.0f} ms |",
        "",
        "Each step of the routine refresh (median):",
        "",
        "| step | time |",
        "|---|---:|",
    ]
    for view, ms in refresh["steps_ms"].items():
        name = "closed days: copied from the recent views" if view == closed_days_log else view
        lines.append(f"| {name} | {ms:,.1f} ms |")
    lines += [
        "",
        "Wall time of `reports.services.reports_refresh` in this process: every statement, the log",
        "and the commit. The routine refresh recounts the recent days (`REPORTS_RECENT_DAYS`) and the",
        "days whose orders changed, never the closed history.",
        "",
        "## The dashboard request (server time)",
        "",
        "| range | dashboard built from | server time | queries |",
        "|---|---|---:|---:|",
    ]
    for (label, mode), (ms, queries) in requests.items():
        lines.append(f"| {label} | {mode} | {ms:,.1f} ms | {queries} |")
    lines += [
        "",
        "Server time is the app's own figure from the `Server-Timing` header (everything between the",
        "first middleware and the response, template included). Live: the same blocks computed from",
        "`accounts_order`/`accounts_orderitem` (what the app never does); cold: each block read from",
        "the layers (the namespace bumped before each request), one after another: in-process, as",
        "under WSGI, where no async pool is open (section 8 has the cold dashboard under ASGI, its",
        "blocks at once); warm: every block from Redis, one query (the user).",
        "",
        "## Each block: live aggregate vs reading the layers",
        "",
        "| range | block | live over the orders | from the layers | faster |",
        "|---|---|---:|---:|---:|",
    ]
    for (label, name), (live, layered) in blocks.items():
        lines.append(f"| {label} | {name} | {live:,.2f} ms | {layered:,.2f} ms | {live / layered:,.1f}x |")
    daily_live, daily_orders_only, daily_view = whole_daily
    lines += [
        f"| all days | whole `sales_daily` list (every day, with items) | {daily_live:,.2f} ms "
        f"| {daily_view:,.2f} ms | {daily_live / daily_view:,.0f}x |",
        f"| all days | daily GROUP BY of the orders alone (no items) | {daily_orders_only:,.2f} ms | | |",
        "",
        f"One Redis GET of a cached block (30 days of the chart): {redis_get_us:,.0f} us.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
