"""The replicas this process reads from: which are healthy, checked at most once per interval.

A replica is taken out of rotation when it does not answer (refused, or silent past its
`connect_timeout`), is not in recovery, or lags more than REPLICA_MAX_LAG_SECONDS or
REPLICA_MAX_LAG_BYTES; it is checked again after REPLICA_BACKOFF_SECONDS. State is per process
(each gunicorn worker keeps its own), guarded by a lock because threads share it.

Behind PgBouncer, a pooler in front of a dead server accepts its clients and makes them wait its
query_wait_timeout (REPLICA_POOL_TIMEOUT), whether its servers are busy or down: it cannot tell
them which (pgbouncer/pgbouncer#585). So a check or a query that failed after such a wait asks
the replica's server itself, past the pooler, on a connection opened for that question only
(REPLICA_PROBES): refused or silent, the replica is down, taken out, and the request reads from
the primary; answering, it is only busy, and the request answers the 503 page at once
(PoolWaitTimeout) rather than make the visitor wait as long again in the primary's pool, and
move a saturated replica's load onto the primary.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from dataclasses import dataclass

import psycopg2
from django.conf import settings
from django.db import Error as DatabaseError
from django.db import OperationalError, connections

from shopsite.db import async_pool

logger = logging.getLogger("shopsite.replicas")

# Lag in seconds is 0 while the replica has replayed all it received: an idle primary sends
# nothing, and the time since the last replayed commit would grow forever. NULL on a primary.
LAG_SECONDS_SQL = """
    CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
         ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END
"""
# Lag in bytes, for rotation, is what the replica received but has not replayed (the primary is not
# asked: a health check is one round trip to the replica alone).
HEALTH_SQL = f"""
    SELECT pg_is_in_recovery(),
           COALESCE(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0),
           COALESCE({LAG_SECONDS_SQL}, 0)
"""


@dataclass
class ReplicaState:
    healthy: bool = True
    checked_at: float = float("-inf")  # time.monotonic() of the last check
    down_until: float = float("-inf")
    reason: str = ""


class PoolWaitTimeout(OperationalError):
    """A replica's pooler found no server connection within its wait: answered with the 503 page."""


def waited_in_pool(alias: str, started: float) -> bool:
    """Return True if a failure on the alias came after waiting out its pooler's queue: a
    connection that was open (not a connect that failed) and at least the pool's wait since
    `started` (time.monotonic())."""
    return (
        bool(settings.DATABASE_POOLER)
        and connections[alias].connection is not None
        and time.monotonic() - started >= settings.REPLICA_POOL_TIMEOUT * 0.9
    )


def server_answers(alias: str) -> bool:
    """Return whether the replica's PostgreSQL server itself answers, past its pooler (False when
    there is no pooler to look past: then the failure was the server's own)."""
    address = settings.REPLICA_PROBES.get(alias)
    if address is None:
        return False
    params = connections[alias].get_connection_params()
    params.pop("cursor_factory", None)
    try:
        with contextlib.closing(psycopg2.connect(**params | address)) as probe, probe.cursor() as cursor:
            cursor.execute("SELECT 1")
    except psycopg2.Error:
        return False
    return True


def parse_lsn(text: str) -> int:
    """Return a WAL position ("16/B374D848") as a number, for comparisons."""
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


class ReplicaPool:
    def __init__(self):
        self._states: dict[str, ReplicaState] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Forget every replica's state (tests, and settings changes)."""
        with self._lock:
            self._states.clear()

    def choose(self) -> str | None:
        """Return a healthy replica picked at random, or None when there is none.

        At most one replica is checked per call, so a request waits at most one connect timeout
        for a replica that does not answer, however many replicas there are.
        """
        candidates = list(settings.REPLICA_ALIASES)
        random.shuffle(candidates)
        checked = False
        for alias in candidates:
            status = self._status(alias, may_check=not checked)
            if status == "check":
                checked = True
                self._check(alias)
                status = "healthy" if self._states[alias].healthy else "down"
            if status == "healthy":
                return alias
        return None

    def _status(self, alias: str, *, may_check: bool) -> str:
        """Return "healthy", "down", "check" (due a check, now claimed by the caller: other
        threads keep the last answer meanwhile) or "skip" (due a check the caller may not make:
        its last check failed, so this request reads from the primary rather than risk a
        second connect timeout)."""
        now = time.monotonic()
        with self._lock:
            state = self._states.setdefault(alias, ReplicaState())
            if now < state.down_until:
                return "down"
            if now - state.checked_at >= settings.REPLICA_CHECK_INTERVAL:
                if not may_check:
                    return "skip"
                state.checked_at = now
                return "check"
            return "healthy" if state.healthy else "down"

    def mark_down(self, alias: str, reason: str) -> None:
        """Take a replica out of rotation for the back-off period."""
        self.take_out(alias, reason)
        connections[alias].close()

    def take_out(self, alias: str, reason: str) -> None:
        """Take a replica out of rotation, leaving its connections alone (the async path has its own)."""
        with self._lock:
            state = self._states.setdefault(alias, ReplicaState())
            was_healthy = state.healthy
            state.healthy = False
            state.reason = reason
            state.down_until = time.monotonic() + settings.REPLICA_BACKOFF_SECONDS
            state.checked_at = float("-inf")  # check again as soon as the back-off ends
        if was_healthy:
            logger.warning(
                "replica %s taken out for %ss: %s", alias, settings.REPLICA_BACKOFF_SECONDS, reason
            )

    def replay_lsn(self, alias: str) -> int | None:
        """Return the WAL position a replica has replayed up to, or None if it cannot say."""
        started = time.monotonic()
        try:
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT pg_last_wal_replay_lsn()::text")
                (lsn,) = cursor.fetchone()
        except DatabaseError as error:
            self.failed(alias, error, started)
            return None
        return parse_lsn(lsn) if lsn else None

    def failed(self, alias: str, error: DatabaseError, started: float) -> None:
        """A query on the replica failed: take it out, unless it is only busy behind its pooler,
        which answers 503 (PoolWaitTimeout) instead. `started`: when the query was sent."""
        if waited_in_pool(alias, started) and server_answers(alias):
            connections[alias].close()  # the pooler disconnected it
            raise PoolWaitTimeout(f"{alias}: no server connection free in its pool") from error
        self.mark_down(alias, error_summary(error))

    def _check(self, alias: str) -> None:
        started = time.monotonic()
        try:
            with connections[alias].cursor() as cursor:
                cursor.execute(HEALTH_SQL)
                row = cursor.fetchone()
        except DatabaseError as error:
            self.failed(alias, error, started)
            return
        self._record(alias, row, self.mark_down)

    def _record(self, alias: str, row: tuple, take_out) -> None:
        """Keep a replica in rotation or take it out (`take_out(alias, reason)`) by its health row."""
        in_recovery, lag_bytes, lag_seconds = row
        if not in_recovery:
            take_out(alias, "not in recovery: it is a primary, not a replica")
        elif lag_seconds > settings.REPLICA_MAX_LAG_SECONDS:
            take_out(alias, f"lags {lag_seconds:.1f}s (limit {settings.REPLICA_MAX_LAG_SECONDS}s)")
        elif lag_bytes > settings.REPLICA_MAX_LAG_BYTES:
            take_out(alias, f"lags {int(lag_bytes)} bytes (limit {settings.REPLICA_MAX_LAG_BYTES})")
        else:
            with self._lock:
                state = self._states[alias]
                was_down = not state.healthy
                state.healthy, state.reason = True, ""
            if was_down:
                logger.info("replica %s put back", alias)

    # The same rules for the async path (shopsite.live), over its own connections
    # (shopsite.db.async_pool). A full async pool (PoolTimeout) is busy, not down: it propagates,
    # and the endpoint answers the 503 page.

    async def achoose(self) -> str | None:
        """Return a healthy replica picked at random, or None: `choose()`, checking on the event loop."""
        candidates = list(settings.REPLICA_ALIASES)
        random.shuffle(candidates)
        checked = False
        for alias in candidates:
            status = self._status(alias, may_check=not checked)
            if status == "check":
                checked = True
                await self._acheck(alias)
                status = "healthy" if self._states[alias].healthy else "down"
            if status == "healthy":
                return alias
        return None

    async def areplay_lsn(self, alias: str) -> int | None:
        """Return the WAL position a replica has replayed up to, or None if it cannot say."""
        try:
            async with async_pool.connection(alias) as conn:
                lsn = await conn.fetchval("SELECT pg_last_wal_replay_lsn()::text")
        except async_pool.UNREACHABLE as error:
            self.take_out(alias, error_summary(error))
            return None
        return parse_lsn(lsn) if lsn else None

    async def _acheck(self, alias: str) -> None:
        try:
            async with async_pool.connection(alias) as conn:
                row = tuple(await conn.fetchrow(HEALTH_SQL))
        except async_pool.UNREACHABLE as error:
            self.take_out(alias, error_summary(error))
            return
        self._record(alias, row, self.take_out)


def error_summary(error: BaseException) -> str:
    """Return the first line of an error's message, for a log line or a status page."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


pool = ReplicaPool()
