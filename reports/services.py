"""Writes of the reports app: refreshing the materialized views."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from graphlib import TopologicalSorter

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from reports.models import REPORT_MODELS, RefreshLog
from reports.selectors import DASHBOARD_NAMESPACE
from shopsite.caching.versioned import namespace_bump_on_commit
from shopsite.db.timeouts import long_transaction

# Every refresher of a database takes this advisory lock: the bytes of "reports" as a bigint.
REFRESH_LOCK_KEY = int.from_bytes(b"reports", "big")
# Each view and the views it reads, which must be refreshed before it (none reads another yet).
VIEW_DEPENDENCIES: dict[str, tuple[str, ...]] = {view: () for view in REPORT_MODELS}


class RefreshAlreadyRunning(Exception):
    """Another process is refreshing the reports of this database."""


class UnknownView(ValueError):
    """A view name that is not one of the report views."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


@dataclass(frozen=True)
class Refreshed:
    view: str
    concurrently: bool
    started: datetime
    duration: timedelta
    rows: int


def view_names() -> list[str]:
    """Return every report view's name, in refresh order."""
    return views_in_refresh_order(None)


def view_name(name: str) -> str:
    """Return the view called `name`, with or without its `reports_` prefix; raise UnknownView."""
    full = name if name.startswith("reports_") else f"reports_{name}"
    if full not in VIEW_DEPENDENCIES:
        raise UnknownView(name)
    return full


def views_in_refresh_order(views: Iterable[str] | None) -> list[str]:
    """Return the views (all when None), each after the views it reads."""
    chosen = set(VIEW_DEPENDENCIES if views is None else views)
    for view in chosen - VIEW_DEPENDENCIES.keys():
        raise UnknownView(view)
    return [view for view in TopologicalSorter(VIEW_DEPENDENCIES).static_order() if view in chosen]


@transaction.atomic
def reports_refresh(*, views: Iterable[str] | None = None, concurrently: bool = True) -> list[Refreshed]:
    """Refresh the report views (all by default) in dependency order, in one transaction, and
    log each refresh; raise RefreshAlreadyRunning at once if another refresh holds the lock.

    A populated view is refreshed CONCURRENTLY (readers keep reading the old rows meanwhile); an
    unpopulated one plainly, as PostgreSQL requires. One transaction: the views change together,
    so the dashboard never mixes old and new, and the lock is released however the run ends. The
    dashboard cache moves to a new version once it commits.

    The refresh is background work on the primary that serves checkouts: it runs on one core
    (REPORTS_REFRESH_PARALLEL_WORKERS, 0 by default) and with REPORTS_REFRESH_WORK_MEM to hash its
    groups in memory, both for this transaction only.
    """
    order = views_in_refresh_order(views)
    refreshed = []
    long_transaction()  # a full refresh takes seconds at a million orders: past the web's limit
    with connection.cursor() as cursor:
        # The transaction-level form: released at commit or rollback, and safe behind PgBouncer.
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [REFRESH_LOCK_KEY])
        if not cursor.fetchone()[0]:
            raise RefreshAlreadyRunning("another refresh is running")
        # set_config(..., true) is SET LOCAL: the pooled connection gets its defaults back at commit.
        cursor.execute(
            "SELECT set_config('max_parallel_workers_per_gather', %s, true), "
            "set_config('work_mem', %s, true)",
            [str(settings.REPORTS_REFRESH_PARALLEL_WORKERS), settings.REPORTS_REFRESH_WORK_MEM],
        )
        cursor.execute(
            "SELECT matviewname, ispopulated FROM pg_matviews "
            "WHERE schemaname = current_schema() AND matviewname = ANY(%s)",
            [order],
        )
        populated = dict(cursor.fetchall())
        for view in order:
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
