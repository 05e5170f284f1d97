"""Writes of the reports app: the refresh, which moves the layers along and counts what changed.

A refresh (docs/ARCHITECTURE.md, "Reports"), in one transaction, one refresher at a time:

1. finds the closed days whose orders were placed or changed status since the last refresh
   looked (`accounts_order.updated`, indexed) and sets the window: the recent layer ends where
   today begins (once the day has been over for CLOSING_MARGIN), and covers those reopened days;
2. recomputes the recent materialized views, CONCURRENTLY once populated: readers keep reading
   the old rows meanwhile;
3. copies into the closed tables the days that leave the recent layer (older than
   REPORTS_RECENT_DAYS) and the reopened ones, replacing what those held, and moves each day's
   change into the monthly and all-time sums (added and subtracted, never re-summed);
4. logs each step and, once committed, moves the dashboard's cache to a new version.

Its work is proportional to the days it counts (the recent days, the reopened ones), not to the
shop's history. The first refresh (or `rebuild=True`) counts all history once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from graphlib import TopologicalSorter

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from reports.models import RefreshLog, ReportWindow
from reports.selectors import DASHBOARD_NAMESPACE
from shopsite.caching.versioned import namespace_bump_on_commit
from shopsite.db.timeouts import long_transaction

# Every refresher of a database takes this advisory lock: the bytes of "reports" as a bigint.
REFRESH_LOCK_KEY = int.from_bytes(b"reports", "big")
# A day is closed once it has been over this long: the orders an app server stamped with that day
# have committed by then, whatever its clock's drift. (One that comes later is found by its
# `updated` at the next refresh, like any change.)
CLOSING_MARGIN = timedelta(minutes=15)
# Where the next refresh looks for changes from: the start of the oldest transaction of another
# client still open as this one begins (or this one's start). A change it cannot see yet was made
# by such a transaction, or a later one, and `updated` (its statement's time) is past that start.
CHANGES_FROM = """
SELECT LEAST(now(), (
    SELECT min(xact_start) FROM pg_stat_activity
    WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
))
"""
# Each materialized view and the views it reads, which are refreshed before it.
VIEW_DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "reports_product_recent": (),
    "reports_sales_recent": ("reports_product_recent",),
    "reports_customer_recent": (),
    "reports_category_recent": ("reports_product_recent",),
    "reports_new_customers": (),
}
# What the refresh logs for step 3, beside the views' names.
CLOSED_DAYS_LOG = "reports_closed_days"


@dataclass(frozen=True)
class ClosedLayer:
    """A closed table of days, the recent view it is copied from, and the tables summing it."""

    day_table: str
    recent_view: str
    keys: tuple[str, ...]  # besides the day
    measures: tuple[str, ...]
    month_table: str | None = None  # the sums per month and key
    total_table: str | None = None  # the sums per key, all days


CLOSED_LAYERS = (
    ClosedLayer("reports_closed_sales_day", "reports_sales_recent", (), ("orders", "items", "revenue")),
    ClosedLayer(
        "reports_closed_product_day",
        "reports_product_recent",
        ("product_id",),
        ("units", "revenue"),
        month_table="reports_closed_product_month",
        total_table="reports_closed_product_total",
    ),
    ClosedLayer(
        "reports_closed_customer_day",
        "reports_customer_recent",
        ("customer_id",),
        ("orders", "revenue"),
        month_table="reports_closed_customer_month",
        total_table="reports_closed_customer_total",
    ),
    ClosedLayer(
        "reports_closed_category_day", "reports_category_recent", ("category_id",), ("units", "revenue")
    ),
)


class RefreshAlreadyRunning(Exception):
    """Another process is refreshing the reports of this database."""


@dataclass(frozen=True)
class Refreshed:
    view: str
    concurrently: bool
    started: datetime
    duration: timedelta
    rows: int


def view_names() -> list[str]:
    """Return every materialized view of the reports, in refresh order."""
    return list(TopologicalSorter(VIEW_DEPENDENCIES).static_order())


@transaction.atomic
def reports_refresh(*, concurrently: bool = True, rebuild: bool = False) -> list[Refreshed]:
    """Bring the reports up to the start of today; raise RefreshAlreadyRunning at once if another
    refresh holds the lock.

    `concurrently=False` refreshes the views plainly (quicker, but their readers wait for the
    commit); `rebuild=True` empties the closed tables and counts all history again (after orders
    were changed around `orders_transition`, by SQL or a restore).

    The refresh is background work on the primary that serves checkouts: it runs on one core
    (REPORTS_REFRESH_PARALLEL_WORKERS, 0 by default) and with REPORTS_REFRESH_WORK_MEM to hash its
    groups in memory, both for this transaction only.
    """
    long_transaction()  # the first refresh counts all history: past the web's limits
    with connection.cursor() as cursor:
        # The transaction-level form: released at commit or rollback, and safe behind PgBouncer.
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [REFRESH_LOCK_KEY])
        if not cursor.fetchone()[0]:
            raise RefreshAlreadyRunning("another refresh is running")
        # set_config(..., true) is SET LOCAL: the pooled connection gets its defaults back at commit.
        cursor.execute(
            "SELECT set_config('max_parallel_workers_per_gather', %s, true), "
            "set_config('work_mem', %s, true), now()",
            [str(settings.REPORTS_REFRESH_PARALLEL_WORKERS), settings.REPORTS_REFRESH_WORK_MEM],
        )
        began = cursor.fetchone()[2]  # the transaction's start, by the database's clock
        cursor.execute(CHANGES_FROM)
        (changes_from,) = cursor.fetchone()
    window = _window_locked()
    if rebuild:
        _closed_tables_empty()
        window.closed_until = None
    # Never backwards (a clock set back): readers' hints rely on it (reports/layers.py, LIVE_ORDERS).
    recent_until = max((began - CLOSING_MARGIN).astimezone(UTC).date(), window.recent_until or date.min)
    window.recent_until = recent_until
    window.reopened = _days_changed(window) if window.closed_until is not None else []
    window.save(update_fields=["closed_until", "recent_until", "reopened"])

    populated = _populated()
    refreshed = _views_refresh(populated, concurrently)

    recent_days = timedelta(days=settings.REPORTS_RECENT_DAYS)
    closes_until = max(recent_until - recent_days, window.closed_until or date.min)
    if window.reopened or window.closed_until is None or closes_until > window.closed_until:
        refreshed.append(_days_close(window, closes_until))
        if window.closed_until is None:
            # The first count: statistics for the planner at once (autovacuum would wait for
            # a tenth of each table to change).
            _closed_tables_analyse()
    caught_up = window.closed_until is None or closes_until - window.closed_until > recent_days
    window.closed_until, window.reopened = closes_until, []
    window.changes_since, window.refreshed = changes_from, began
    window.save(update_fields=["closed_until", "reopened", "changes_since", "refreshed"])
    if caught_up:
        # The first refresh (or a long pause) left all those days in the recent views as well:
        # count the recent ones alone again, so the views stay the size of the window.
        refreshed += _views_refresh(populated, concurrently)

    RefreshLog.objects.bulk_create(
        RefreshLog(
            view=done.view,
            started=done.started,
            duration=done.duration,
            rows=done.rows,
            concurrently=done.concurrently,
        )
        for done in refreshed
    )
    namespace_bump_on_commit(DASHBOARD_NAMESPACE)
    return refreshed


def reports_forget(**signal) -> None:
    """Forget every counted day, as if the reports were never refreshed: the next refresh counts
    all history. For a shop whose orders were all deleted (accounts.signals.shop_data_reset)."""
    _closed_tables_empty()
    ReportWindow.objects.filter(id=1).update(
        closed_until=None, recent_until=None, reopened=[], changes_since=None, refreshed=None
    )
    namespace_bump_on_commit(DASHBOARD_NAMESPACE)


def _window_locked() -> ReportWindow:
    """Return the window's row, locked until the commit. Read by SQL, not `.get()`: one row once
    per refresh, which an N+1 detector would take for a loop when a test refreshes twice."""
    with connection.cursor() as cursor:
        # The migration made the row; a flush (tests, or by hand) may have emptied the table since.
        cursor.execute(
            "INSERT INTO reports_reportwindow (id, reopened) VALUES (1, '{}') ON CONFLICT DO NOTHING"
        )
        cursor.execute(
            "SELECT closed_until, recent_until, changes_since, refreshed FROM reports_reportwindow "
            "WHERE id = 1 FOR UPDATE"
        )
        closed_until, recent_until, changes_since, refreshed = cursor.fetchone()
    return ReportWindow(
        id=1,
        closed_until=closed_until,
        recent_until=recent_until,
        reopened=[],
        changes_since=changes_since,
        refreshed=refreshed,
    )


def _days_changed(window: ReportWindow) -> list[date]:
    """Return the closed days with an order placed or changed since the last refresh looked."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT (created AT TIME ZONE 'UTC')::date FROM accounts_order "
            "WHERE updated >= %s AND created < %s::timestamp AT TIME ZONE 'UTC' ORDER BY 1",
            [window.changes_since, window.closed_until],
        )
        return [day for (day,) in cursor.fetchall()]


def _populated() -> dict[str, bool]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT matviewname, ispopulated FROM pg_matviews "
            "WHERE schemaname = current_schema() AND matviewname = ANY(%s)",
            [list(VIEW_DEPENDENCIES)],
        )
        return dict(cursor.fetchall())


def _views_refresh(populated: dict[str, bool], concurrently: bool) -> list[Refreshed]:
    """Refresh every view, each after those it reads; CONCURRENTLY if it was populated when this
    refresh began (an empty one cannot be, and has no reader to spare)."""
    refreshed = []
    with connection.cursor() as cursor:
        for view in view_names():
            quoted = connection.ops.quote_name(view)
            refresh_concurrently = concurrently and populated.get(view, False)
            started, clock = timezone.now(), time.perf_counter()
            cursor.execute(
                f"REFRESH MATERIALIZED VIEW {'CONCURRENTLY ' if refresh_concurrently else ''}{quoted}"
            )
            duration = timedelta(seconds=time.perf_counter() - clock)
            cursor.execute(f"SELECT count(*) FROM {quoted}")
            rows = cursor.fetchone()[0]
            refreshed.append(Refreshed(view, refresh_concurrently, started, duration, rows))
    return refreshed


def _days_close(window: ReportWindow, until: date) -> Refreshed:
    """Copy into the closed tables the recent days before `until` that are not closed yet and the
    reopened ones, replacing what the tables held for those; return the step for the log."""
    started, clock = timezone.now(), time.perf_counter()
    since = window.closed_until or date.min
    params = {"reopened": window.reopened, "since": since, "until": until}
    rows = 0
    with connection.cursor() as cursor:
        for layer in CLOSED_LAYERS:
            if window.reopened:
                cursor.execute(_closed_days_sql(layer, removed=True), params)
            cursor.execute(_closed_days_sql(layer, removed=False), params)
            rows += cursor.fetchone()[0]
    return Refreshed(CLOSED_DAYS_LOG, False, started, timedelta(seconds=time.perf_counter() - clock), rows)


def _closed_days_sql(layer: ClosedLayer, *, removed: bool) -> str:
    """One statement: delete the reopened days' rows (`removed`) or copy the days in from the
    recent view, and move the same rows, negated when removed, into the month and total sums.

    Sums are moved, never recounted: a day is added once when it closes, and taken out again
    only when it is reopened, before its new rows are added.
    """
    columns = ["day", *layer.keys, *layer.measures]
    listed = ", ".join(columns)
    if removed:
        change = f"DELETE FROM {layer.day_table} WHERE day = ANY(%(reopened)s) RETURNING {listed}"
        sign = "-"
    else:
        change = (
            f"INSERT INTO {layer.day_table} ({listed}) SELECT {listed} FROM {layer.recent_view} "
            "WHERE day = ANY(%(reopened)s) OR (day >= %(since)s AND day < %(until)s) "
            # In key order: the days of a range stay together on disk, fewer pages to read.
            f"ORDER BY {', '.join(['day', *layer.keys])} RETURNING {listed}"
        )
        sign = ""
    sums = [(layer.month_table, ["date_trunc('month', day)::date", *layer.keys], ["month", *layer.keys])]
    sums.append((layer.total_table, list(layer.keys), list(layer.keys)))
    statements = [f"changed AS ({change})"]
    for n, (table, grouped, named) in enumerate((t, g, k) for t, g, k in sums if t is not None):
        measures = ", ".join(f"{sign}sum({measure})" for measure in layer.measures)
        moved = ", ".join(f"{measure} = {table}.{measure} + EXCLUDED.{measure}" for measure in layer.measures)
        statements.append(
            f"sum_{n} AS (INSERT INTO {table} ({', '.join([*named, *layer.measures])}) "
            f"SELECT {', '.join(grouped)}, {measures} FROM changed GROUP BY {', '.join(grouped)} "
            f"ON CONFLICT ({', '.join(named)}) DO UPDATE SET {moved})"
        )
    return f"WITH {', '.join(statements)} SELECT count(*) FROM changed"


def _closed_tables_analyse() -> None:
    with connection.cursor() as cursor:
        for table in closed_tables():
            cursor.execute(f"ANALYZE {table}")


def _closed_tables_empty() -> None:
    """Delete every closed row (not TRUNCATE: readers keep the old rows until the commit)."""
    with connection.cursor() as cursor:
        for table in closed_tables():
            cursor.execute(f"DELETE FROM {table}")


def closed_tables() -> Iterable[str]:
    """Return every closed table."""
    for layer in CLOSED_LAYERS:
        yield layer.day_table
        yield from (table for table in (layer.month_table, layer.total_table) if table)
