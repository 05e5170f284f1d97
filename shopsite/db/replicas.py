"""The replicas this process reads from: which are healthy, checked at most once per interval.

A replica is taken out of rotation when it does not answer (refused, or silent past its
`connect_timeout`), is not in recovery, or lags more than REPLICA_MAX_LAG_SECONDS or
REPLICA_MAX_LAG_BYTES; it is checked again after REPLICA_BACKOFF_SECONDS. State is per process
(each gunicorn worker keeps its own), guarded by a lock because threads share it.

Behind PgBouncer the checks ask the replica's server itself, on a connection of their own per
thread (REPLICA_PROBES): a pooler in front of a dead server accepts its clients and makes them
wait its query_wait_timeout (REPLICA_POOL_TIMEOUT), whether its servers are busy or down; it
cannot tell them which (pgbouncer/pgbouncer#585). The server can: refused or silent is down,
an answer is up. A query that failed after waiting out its pool is then told apart the same way
(shopsite.db.retry): a dead replica is taken out and the request reads from the primary; a busy
one answers the 503 page at once (PoolWaitTimeout), rather than make the visitor wait as long
again in the primary's pool and move a saturated replica's load onto the primary.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass

import psycopg2
from django.conf import settings
from django.db import Error as DatabaseError
from django.db import OperationalError, connections

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


class _Probes(threading.local):
    """Each thread's direct connections to the replicas' servers, opened when first needed."""

    def __init__(self):
        self.open: dict[str, psycopg2.extensions.connection] = {}


_probes = _Probes()


def _probe_query(alias: str, sql: str) -> tuple:
    """Run one query on the replica: on its server directly behind a pooler, else as Django does."""
    address = settings.REPLICA_PROBES.get(alias)
    if address is None:
        with connections[alias].cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchone()
    probe = _probes.open.get(alias)
    try:
        if probe is None or probe.closed:
            params = connections[alias].get_connection_params()
            params.pop("cursor_factory", None)
            probe = psycopg2.connect(**params | address)
            probe.autocommit = True
            _probes.open[alias] = probe
        with probe.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchone()
    except psycopg2.Error as error:
        _probes.open.pop(alias, None)
        if probe is not None:
            probe.close()
        raise OperationalError(str(error)) from error


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
        with self._lock:
            state = self._states.setdefault(alias, ReplicaState())
            was_healthy = state.healthy
            state.healthy = False
            state.reason = reason
            state.down_until = time.monotonic() + settings.REPLICA_BACKOFF_SECONDS
            state.checked_at = float("-inf")  # check again as soon as the back-off ends
        connections[alias].close()
        if was_healthy:
            logger.warning(
                "replica %s taken out for %ss: %s", alias, settings.REPLICA_BACKOFF_SECONDS, reason
            )

    def replay_lsn(self, alias: str) -> int | None:
        """Return the WAL position a replica has replayed up to, or None if it cannot say."""
        try:
            (lsn,) = _probe_query(alias, "SELECT pg_last_wal_replay_lsn()::text")
        except DatabaseError as error:
            self.mark_down(alias, error_summary(error))
            return None
        return parse_lsn(lsn) if lsn else None

    def check_now(self, alias: str) -> bool:
        """Check a replica at once, whatever its last check; return whether it is healthy."""
        with self._lock:
            self._states.setdefault(alias, ReplicaState()).checked_at = time.monotonic()
        self._check(alias)
        return self._states[alias].healthy

    def _check(self, alias: str) -> None:
        try:
            in_recovery, lag_bytes, lag_seconds = _probe_query(alias, HEALTH_SQL)
        except DatabaseError as error:
            self.mark_down(alias, error_summary(error))
            return
        if not in_recovery:
            self.mark_down(alias, "not in recovery: it is a primary, not a replica")
        elif lag_seconds > settings.REPLICA_MAX_LAG_SECONDS:
            self.mark_down(alias, f"lags {lag_seconds:.1f}s (limit {settings.REPLICA_MAX_LAG_SECONDS}s)")
        elif lag_bytes > settings.REPLICA_MAX_LAG_BYTES:
            self.mark_down(alias, f"lags {int(lag_bytes)} bytes (limit {settings.REPLICA_MAX_LAG_BYTES})")
        else:
            with self._lock:
                state = self._states[alias]
                was_down = not state.healthy
                state.healthy, state.reason = True, ""
            if was_down:
                logger.info("replica %s put back", alias)


def error_summary(error: BaseException) -> str:
    """Return the first line of an error's message, for a log line or a status page."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


pool = ReplicaPool()
