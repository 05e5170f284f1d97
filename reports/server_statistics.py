"""What each PostgreSQL server and PgBouncer counts, read for the database health page
(reports/database_health.py): each server's statements (pg_stat_statements), the scans of each
index on every server, table and index sizes, cache hits, and each pooler's pools.

Each read is on its own: one that fails gives its section a `problem` saying what is wrong and
what to do (the extension missing or not preloaded, no privilege, a pooler that does not
answer), never an exception.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

import psycopg2
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db import Error as DatabaseError

from shopsite.db.replicas import error_summary

TOP_STATEMENTS = 10  # by total time, and by mean time
STATEMENT_CHARS = 1_000  # of each statement's text
INDEX_ROWS = 500  # the biggest indexes: enough for every index of the shop
TABLE_ROWS = 30  # the biggest tables
POOLER_CONNECT_TIMEOUT = 2  # seconds; libpq's least
HIDDEN_TEXT = "<insufficient privilege>"  # what pg_stat_statements shows of others' statements

NOT_INSTALLED = (
    "The pg_stat_statements extension is not installed in this database (or not on the search_path): "
    "as a superuser, run CREATE EXTENSION pg_stat_statements; in it (docs/DEPLOYMENT.md)."
)
NOT_LOADED = (
    "pg_stat_statements is not loaded on this server: add it to shared_preload_libraries in its "
    "postgresql.conf and restart PostgreSQL (docs/DEPLOYMENT.md)."
)
OLD_VERSION = (
    "The pg_stat_statements extension is older than this page reads (1.9, PostgreSQL 14): "
    "run ALTER EXTENSION pg_stat_statements UPDATE; as a superuser."
)
NOT_ALLOWED = (
    "The database user {user} may not read pg_stat_statements: as a superuser, run "
    "GRANT SELECT ON pg_stat_statements, pg_stat_statements_info TO {user};"
)
HIDDEN = (
    "{hidden} statements of other database users are hidden ({text}): "
    "GRANT pg_read_all_stats TO {user}; to see them."
)
NO_POOLER = "The app connects to PostgreSQL directly (DATABASE_POOLER is empty): there is no pooler to show."
NO_POOLER_CONSOLE = (
    "No pooler admin console is configured: set POOLER_ADMIN_URLS to each PgBouncer's "
    "pgbouncer database (docs/DEPLOYMENT.md)."
)

# pg_stat_statements of this database: who may not read a statement's text sees HIDDEN_TEXT.
STATEMENTS_SQL = """
SELECT counts.hidden, info.stats_reset,
       top.query, top.calls, top.total_exec_time, top.mean_exec_time, top.rows, top.by_total, top.by_mean
FROM (
    SELECT count(*) FILTER (WHERE query = %(hidden_text)s) AS hidden
    FROM pg_stat_statements
    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
) counts
CROSS JOIN (SELECT stats_reset FROM pg_stat_statements_info) info
LEFT JOIN (
    SELECT * FROM (
        SELECT left(query, %(chars)s) AS query, calls, total_exec_time, mean_exec_time, rows,
               row_number() OVER (ORDER BY total_exec_time DESC) AS by_total,
               row_number() OVER (ORDER BY mean_exec_time DESC) AS by_mean
        FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND query <> %(hidden_text)s
    ) ranked
    WHERE by_total <= %(top)s OR by_mean <= %(top)s
) top ON true
"""
# Measuring a relation (pg_relation_size and the like) takes a lock on it, which would queue behind
# an ACCESS EXCLUSIVE lock another session holds or awaits (ALTER TABLE, TRUNCATE, a plain REFRESH,
# REINDEX, VACUUM FULL; on a replica, the primary's, replayed): such a relation's size is estimated
# from pg_class (its pages at the last VACUUM, ANALYZE or index build) instead of waited for.
LOCKED_BY_OTHERS = """EXISTS (
    SELECT 1 FROM pg_locks l
    WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock'
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.pid IS DISTINCT FROM pg_backend_pid()
      AND l.relation IN ({relations})
)"""
BLOCK_SIZE = "current_setting('block_size')::bigint"
# The primary's indexes with their sizes, the biggest first. An index that enforces uniqueness or
# an exclusion is needed even if no query ever scans it.
INDEXES_SQL = f"""
SELECT relname, indexrelname, idx_scan, enforces, locked,
       CASE WHEN locked THEN relpages * {BLOCK_SIZE} ELSE pg_relation_size(indexrelid) END AS size
FROM (
    SELECT s.relname, s.indexrelname, s.idx_scan, s.indexrelid, c.relpages::bigint AS relpages,
           x.indisunique OR x.indisexclusion AS enforces,
           {LOCKED_BY_OTHERS.format(relations="s.indexrelid, s.relid")} AS locked
    FROM pg_stat_user_indexes s
    JOIN pg_index x ON x.indexrelid = s.indexrelid
    JOIN pg_class c ON c.oid = s.indexrelid
    WHERE s.schemaname = current_schema()
) i
ORDER BY size DESC, relname, indexrelname
LIMIT %s
"""
# A replica's scans of each index: its own counters (sizes are the primary's); no lock taken.
INDEX_SCANS_SQL = """
SELECT relname, indexrelname, idx_scan FROM pg_stat_user_indexes WHERE schemaname = current_schema()
"""
# A table, its TOAST table and its indexes: what measuring the table opens.
TABLE_RELATIONS = """
    SELECT t.relid UNION ALL SELECT c.reltoastrelid
    UNION ALL SELECT indexrelid FROM pg_index WHERE indrelid = t.relid
"""
TABLES_SQL = f"""
SELECT relname, rows, locked,
       CASE WHEN locked THEN heap_pages * {BLOCK_SIZE} ELSE pg_table_size(relid) END AS table_size,
       CASE WHEN locked THEN index_pages * {BLOCK_SIZE} ELSE pg_indexes_size(relid) END AS indexes_size,
       CASE WHEN locked THEN (heap_pages + index_pages) * {BLOCK_SIZE}
            ELSE pg_total_relation_size(relid) END AS total_size
FROM (
    SELECT t.relid, t.relname, t.n_live_tup AS rows,
           c.relpages::bigint + COALESCE((SELECT relpages FROM pg_class WHERE oid = c.reltoastrelid), 0)
               AS heap_pages,
           COALESCE((
               SELECT sum(ic.relpages) FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid
               WHERE x.indrelid = t.relid
           ), 0)::bigint AS index_pages,
           {LOCKED_BY_OTHERS.format(relations=TABLE_RELATIONS)} AS locked
    FROM pg_stat_user_tables t
    JOIN pg_class c ON c.oid = t.relid
    WHERE t.schemaname = current_schema()
) t
ORDER BY total_size DESC, relname
LIMIT %s
"""
CACHE_SQL = "SELECT blks_hit, blks_read, stats_reset FROM pg_stat_database WHERE datname = current_database()"
# SHOW POOLS columns, by name: they differ between PgBouncer versions.
POOL_COLUMNS = ("database", "user", "cl_active", "cl_waiting", "sv_active", "sv_idle", "sv_used", "maxwait")


@dataclass(frozen=True)
class Statement:
    query: str  # its text as pg_stat_statements keeps it, constants as $1, $2, ...
    calls: int
    total_ms: float
    mean_ms: float
    rows: int


@dataclass(frozen=True)
class ServerStatements:
    server: str
    by_total: list[Statement] = field(default_factory=list)
    by_mean: list[Statement] = field(default_factory=list)
    hidden: int = 0  # statements of other users whose text this user may not read
    since: datetime | None = None  # the statistics' last reset
    hidden_note: str = ""  # what to do to see the hidden ones
    problem: str = ""  # why none could be read

    @property
    def label(self) -> str:
        return server_label(self.server)


@dataclass(frozen=True)
class IndexUse:
    table: str
    index: str
    size: int  # bytes
    estimated: bool  # the size, as another session holds a lock on the index or its table
    enforces: bool  # unique or an exclusion: kept even if never scanned
    scans: dict[str, int | None]  # per server; None where it could not be read

    @property
    def total_scans(self) -> int:
        return sum(scans for scans in self.scans.values() if scans)

    @property
    def never_used(self) -> bool:
        """Whether no server that answered has scanned it since its statistics were reset."""
        return self.total_scans == 0 and any(scans is not None for scans in self.scans.values())


@dataclass(frozen=True)
class TableSize:
    table: str
    rows: int  # PostgreSQL's estimate of live rows
    estimated: bool  # the sizes, as another session holds a lock on the table or an index of it
    table_size: int  # bytes, with TOAST
    indexes_size: int
    total_size: int

    @property
    def sizes(self) -> tuple[int, int, int]:
        return self.table_size, self.indexes_size, self.total_size


@dataclass(frozen=True)
class ServerCache:
    server: str
    hits: int = 0  # blocks found in shared buffers
    reads: int = 0  # blocks read from the OS (its cache or the disk)
    since: datetime | None = None
    problem: str = ""

    @property
    def label(self) -> str:
        return server_label(self.server)

    @property
    def hit_percent(self) -> float | None:
        return 100 * self.hits / (self.hits + self.reads) if self.hits + self.reads else None


@dataclass(frozen=True)
class IndexUsage:
    servers: list[str]
    indexes: list[IndexUse]  # the biggest first
    tables: list[TableSize]  # the biggest first
    caches: list[ServerCache]
    problems: list[str]  # servers whose index scans could not be read, and why

    @property
    def labels(self) -> list[str]:
        return [server_label(alias) for alias in self.servers]

    @property
    def never_used(self) -> list[IndexUse]:
        """Return the indexes no server has scanned that enforce nothing: candidates to drop."""
        return [index for index in self.indexes if index.never_used and not index.enforces]

    @property
    def never_used_enforcing(self) -> int:
        """Return how many indexes no server has scanned enforce uniqueness (kept for that)."""
        return sum(1 for index in self.indexes if index.never_used and index.enforces)


@dataclass(frozen=True)
class Pool:
    database: str
    user: str
    clients_active: int
    clients_waiting: int
    servers_active: int  # server connections in use by a client
    servers_idle: int
    servers_used: int  # idle, to be checked before reuse
    max_wait_seconds: int  # how long the oldest waiting client has waited


@dataclass(frozen=True)
class PoolerPools:
    pooler: str  # host:port, never the URL (it holds the password)
    pools: list[Pool] = field(default_factory=list)
    problem: str = ""


def server_label(alias: str) -> str:
    """Return how the page names a server: the primary, or its replica alias."""
    return "primary" if alias == DEFAULT_DB_ALIAS else alias


# --- Statements -----------------------------------------------------------------------------


def server_statements(alias: str, *, top: int = TOP_STATEMENTS) -> ServerStatements:
    """Return a server's top statements by total and by mean time in this database, or what
    keeps pg_stat_statements from being read there."""
    user = settings.DATABASES[alias]["USER"]
    try:
        with _spoiling_nothing(alias), connections[alias].cursor() as cursor:
            cursor.execute(STATEMENTS_SQL, {"hidden_text": HIDDEN_TEXT, "chars": STATEMENT_CHARS, "top": top})
            rows = cursor.fetchall()
    except DatabaseError as error:
        return ServerStatements(alias, problem=statements_problem(error, user=user))
    hidden, since = rows[0][0], rows[0][1]
    ranked = [(Statement(*row[2:7]), row[7], row[8]) for row in rows if row[2] is not None]
    return ServerStatements(
        alias,
        by_total=[
            statement for statement, by_total, _ in sorted(ranked, key=lambda r: r[1]) if by_total <= top
        ],
        by_mean=[statement for statement, _, by_mean in sorted(ranked, key=lambda r: r[2]) if by_mean <= top],
        hidden=hidden,
        since=since,
        hidden_note=HIDDEN.format(hidden=hidden, text=HIDDEN_TEXT, user=user) if hidden else "",
    )


def _spoiling_nothing(alias: str):
    """Return a savepoint if a transaction is open on the connection (a failed statement would
    abort it), else nothing: in autocommit a failed statement spoils no other."""
    return transaction.atomic(using=alias) if connections[alias].in_atomic_block else nullcontext()


def statements_problem(error: DatabaseError, *, user: str) -> str:
    """Return what a failure to read pg_stat_statements means, and what to do about it."""
    code = getattr(error.__cause__, "pgcode", None) or getattr(error, "pgcode", None)
    if code == "42P01":  # undefined_table
        return NOT_INSTALLED
    if code == "55000" and "shared_preload_libraries" in str(error):  # object_not_in_prerequisite_state
        return NOT_LOADED
    if code in {"42703", "42883"}:  # undefined_column, undefined_function: an older extension
        return OLD_VERSION
    if code == "42501":  # insufficient_privilege
        return NOT_ALLOWED.format(user=user)
    return f"pg_stat_statements could not be read: {error_summary(error)}"


# --- Indexes, tables, caches ------------------------------------------------------------------


def index_usage(servers: list[str], *, down: dict[str, str]) -> IndexUsage:
    """Return the primary's indexes, biggest first, with each server's scans of them, the biggest
    tables, and each server's cache hit ratio."""
    primary: list[tuple] = []
    scans: dict[str, dict[tuple[str, str], int]] = {}
    problems, caches = [], []
    for alias in servers:
        if alias in down:
            problems.append(f"{server_label(alias)}: {down[alias]}")
            caches.append(ServerCache(alias, problem=down[alias]))
            continue
        try:
            if alias == DEFAULT_DB_ALIAS:
                primary = _read(alias, INDEXES_SQL, [INDEX_ROWS])
                rows = [row[:3] for row in primary]
            else:
                rows = _read(alias, INDEX_SCANS_SQL)
        except DatabaseError as error:
            problems.append(
                f"{server_label(alias)}: its index scans could not be read ({error_summary(error)})"
            )
        else:
            scans[alias] = {(table, index): count for table, index, count in rows}
        caches.append(server_cache(alias))
    indexes = [
        IndexUse(
            table,
            index,
            size,
            estimated,
            enforces,
            {alias: scans[alias].get((table, index), 0) if alias in scans else None for alias in servers},
        )
        for table, index, _, enforces, estimated, size in primary
    ]
    return IndexUsage(servers, indexes, table_sizes(down=down), caches, problems)


def table_sizes(*, down: dict[str, str]) -> list[TableSize]:
    """Return the biggest tables and views of the primary, with their indexes' size."""
    if DEFAULT_DB_ALIAS in down:
        return []
    return [TableSize(*row) for row in _read(DEFAULT_DB_ALIAS, TABLES_SQL, [TABLE_ROWS])]


def server_cache(alias: str) -> ServerCache:
    """Return how often a server found this database's blocks in its shared buffers."""
    try:
        rows = _read(alias, CACHE_SQL)
    except DatabaseError as error:
        return ServerCache(alias, problem=f"could not be read: {error_summary(error)}")
    return ServerCache(alias, *rows[0]) if rows else ServerCache(alias)


def _read(alias: str, sql: str, params: list | None = None) -> list[tuple]:
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


# --- Poolers ---------------------------------------------------------------------------------


def pooler_pools() -> tuple[list[PoolerPools], str]:
    """Return each PgBouncer's pools, from its admin console, and why there are none to show."""
    if not settings.DATABASE_POOLER:
        return [], NO_POOLER
    if not settings.POOLER_ADMIN_URLS:
        return [], NO_POOLER_CONSOLE
    return [pools_of(url) for url in settings.POOLER_ADMIN_URLS], ""


def pools_of(url: str) -> PoolerPools:
    """Return one PgBouncer's pools (SHOW POOLS on its admin console), or why it did not answer."""
    pooler, password = _pooler_address(url)

    def unless_secret(error: psycopg2.Error) -> str:  # libpq may quote a malformed URL's parts
        summary = error_summary(error)
        return summary.replace(password, "***") if password else summary

    try:
        console = psycopg2.connect(url, connect_timeout=POOLER_CONNECT_TIMEOUT)
    except psycopg2.Error as error:
        return PoolerPools(
            pooler, problem=f"The pooler's admin console does not answer: {unless_secret(error)}"
        )
    try:
        console.autocommit = True  # the console runs no transactions
        with console.cursor() as cursor:
            cursor.execute("SHOW POOLS")
            names = [column.name for column in cursor.description]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    except psycopg2.Error as error:
        return PoolerPools(pooler, problem=f"SHOW POOLS failed: {unless_secret(error)}")
    finally:
        console.close()
    missing = [column for column in POOL_COLUMNS if rows and column not in rows[0]]
    if missing:
        return PoolerPools(
            pooler, problem=f"SHOW POOLS has no column {', '.join(missing)}: another PgBouncer?"
        )
    return PoolerPools(
        pooler,
        pools=[
            Pool(
                row["database"],
                row["user"],
                row["cl_active"],
                row["cl_waiting"],
                row["sv_active"],
                row["sv_idle"],
                row["sv_used"],
                row["maxwait"],
            )
            for row in rows
            if row["database"] != "pgbouncer"  # the console itself
        ],
    )


def _pooler_address(url: str) -> tuple[str, str | None]:
    """Return a console URL's host:port, to show, and its password, never to."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # not a number: libpq will say so
        port = None
    return f"{parts.hostname or 'localhost'}:{port or 5432}", parts.password
