"""The database health page's report (reports/views.py:database_health): what an operator watches.

- statements: pg_stat_statements on each server (the primary and every replica: the pages' reads
  run on the replicas), the top ones by total and by mean time;
- indexes: the scans of each index on each server, summed, so that an index only the replicas'
  reads use is not taken for unused; the indexes no server has scanned since its statistics were
  reset; table and index sizes; each server's cache hit ratio;
- replication and pooling: each replica's lag (shopsite.db.health) and each PgBouncer's pools
  (its admin console, POOLER_ADMIN_URLS);
- the report views' freshness and refreshes, and the slowest recent management commands.

The servers' own counters are read by reports/server_statistics.py, each section on its own: one
that cannot be read (an extension missing, a replica or a pooler down) carries a `problem` saying
what is wrong and what to do, and the others still show. The whole report is cached in Redis for
HEALTH_CACHE_SECONDS.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from reports.models import CommandRun, RefreshLog
from reports.selectors import reports_freshness
from reports.server_statistics import (
    IndexUsage,
    PoolerPools,
    ServerStatements,
    index_usage,
    pooler_pools,
    server_label,
    server_statements,
)
from reports.services import view_names
from shopsite.caching.keys import cache_key
from shopsite.db.health import primary_state, replica_state
from shopsite.db.timing import count_cache

HEALTH_CACHE_SECONDS = 15
# In the key: change it with the report's shape, so a deploy never unpickles an older one.
HEALTH_FORMAT = 1
RECENT_REFRESHES = 20
SLOWEST_COMMANDS = 10
COMMANDS_SINCE = timedelta(days=7)


@dataclass(frozen=True)
class ReplicaLag:
    server: str
    up: bool
    lag_bytes: int | None = None
    lag_seconds: float | None = None
    problem: str = ""

    @property
    def label(self) -> str:
        return server_label(self.server)


@dataclass(frozen=True)
class ViewRefresh:
    view: str
    populated: bool
    refreshed: datetime | None  # when its newest refresh started
    duration: timedelta | None
    rows: int | None

    @property
    def duration_ms(self) -> float | None:
        return None if self.duration is None else self.duration.total_seconds() * 1000


@dataclass(frozen=True)
class Refresh:
    view: str
    started: datetime
    duration: timedelta
    rows: int

    @property
    def duration_ms(self) -> float:
        return self.duration.total_seconds() * 1000


@dataclass(frozen=True)
class CommandRunTime:
    name: str
    started: datetime
    duration: timedelta
    queries: int
    database_time: timedelta
    exit_code: int

    @property
    def duration_ms(self) -> float:
        return self.duration.total_seconds() * 1000

    @property
    def database_ms(self) -> float:
        return self.database_time.total_seconds() * 1000


@dataclass(frozen=True)
class HealthReport:
    read_at: datetime
    statements: list[ServerStatements]
    indexes: IndexUsage
    replicas: list[ReplicaLag]
    poolers: list[PoolerPools]
    poolers_problem: str
    views: list[ViewRefresh]
    refreshes: list[Refresh]  # the newest first
    commands: list[CommandRunTime]  # the slowest first


def health_report() -> HealthReport:
    """Return the health report from Redis if read in the last HEALTH_CACHE_SECONDS, else read it."""
    key = cache_key("database_health", f"f{HEALTH_FORMAT}")
    report = cache.get(key)
    count_cache(hit=report is not None)
    if report is None:
        report = read_health_report()
        cache.set(key, report, HEALTH_CACHE_SECONDS)
    return report


def read_health_report() -> HealthReport:
    """Read every section of the health report from the servers."""
    primary = primary_state()
    lags = [_replica_lag(alias, primary.get("wal_lsn")) for alias in settings.REPLICA_ALIASES]
    # A replica that did not answer is not asked again for each section.
    down = {lag.server: lag.problem for lag in lags if not lag.up}
    if not primary["up"]:
        down[DEFAULT_DB_ALIAS] = f"The primary does not answer: {primary['error']}"
    servers = [DEFAULT_DB_ALIAS, *settings.REPLICA_ALIASES]
    poolers, poolers_problem = pooler_pools()
    return HealthReport(
        read_at=timezone.now(),
        statements=[
            ServerStatements(alias, problem=down[alias]) if alias in down else server_statements(alias)
            for alias in servers
        ],
        indexes=index_usage(servers, down=down),
        replicas=lags,
        poolers=poolers,
        poolers_problem=poolers_problem,
        views=view_refreshes(),
        refreshes=recent_refreshes(),
        commands=slowest_commands(),
    )


def _replica_lag(alias: str, primary_lsn: str | None) -> ReplicaLag:
    state = replica_state(alias, primary_lsn)
    if not state["up"]:
        return ReplicaLag(alias, up=False, problem=f"{alias} does not answer: {state['error']}")
    return ReplicaLag(alias, up=True, lag_bytes=state["lag_bytes"], lag_seconds=state["lag_seconds"])


# --- Report views and commands ----------------------------------------------------------------


def view_refreshes() -> list[ViewRefresh]:
    """Return each materialized view's freshness and its newest refresh: when, how long, how many rows."""
    views = view_names()
    freshness = reports_freshness(views)
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(
            f"""
            SELECT v.view, newest.duration, newest.rows
            FROM unnest(%s::text[]) AS v(view)
            JOIN LATERAL (
                SELECT duration, rows FROM {RefreshLog._meta.db_table} r
                WHERE r.view = v.view ORDER BY started DESC LIMIT 1
            ) newest ON true
            """,
            [views],
        )
        newest = {view: (duration, rows) for view, duration, rows in cursor.fetchall()}
    return [
        ViewRefresh(
            view, freshness[view].populated, freshness[view].refreshed, *newest.get(view, (None, None))
        )
        for view in views
    ]


def recent_refreshes(*, limit: int = RECENT_REFRESHES) -> list[Refresh]:
    """Return the newest refreshes of any view."""
    # By id, which grows with each refresh logged: the primary key's index, not a sort of the log.
    rows = RefreshLog.objects.order_by("-pk").values_list("view", "started", "duration", "rows")[:limit]
    return [Refresh(*row) for row in rows]


def slowest_commands(
    *, limit: int = SLOWEST_COMMANDS, since: timedelta = COMMANDS_SINCE
) -> list[CommandRunTime]:
    """Return the slowest management command runs of the last `since`, failed ones included."""
    rows = (
        CommandRun.objects.filter(started__gte=timezone.now() - since)
        .order_by("-duration", "-started")
        .values_list("name", "started", "duration", "queries", "database_time", "exit_code")[:limit]
    )
    return [CommandRunTime(*row) for row in rows]
