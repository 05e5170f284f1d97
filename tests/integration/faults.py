"""Helpers of the fault tests: servers stopped and started, a silent listener, timed requests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg2
import pytest
from django.conf import settings
from django.db import OperationalError, connection, connections

from shopsite import localstack


def primary_wait() -> float:
    """How long a request may wait for a primary that is down: its connect timeout, or behind
    PgBouncer the pool's wait, which a pooler spends on a dead server as on a busy one."""
    return (
        settings.DATABASE_POOL["timeout"] if settings.DATABASE_POOLER else settings.DATABASE_CONNECT_TIMEOUT
    )


def scalar(alias: str, sql: str, params=()):
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def answers(alias: str, sql: str, params=()) -> bool:
    """Return the query's boolean answer, or False while the server is still starting."""
    try:
        return bool(scalar(alias, sql, params))
    except OperationalError:
        connections[alias].close()
        return False


def poll(check: Callable[[], object], timeout: float = 20, interval: float = 0.05, what: str = "condition"):
    """Call `check` until it returns something true, and return that; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what} not met within {timeout}s"
        time.sleep(interval)  # a poll interval, bounded by the deadline above


def wait_for_replay(timeout: float = 10) -> None:
    """Wait until every replica has replayed everything the primary has written so far; unlike
    tests.conftest.wait_for_replicas, a replica still starting up is waited for, not an error."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()")
        (target,) = cursor.fetchone()
    for alias in settings.REPLICA_ALIASES:
        poll(
            lambda alias=alias: answers(alias, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]),
            timeout=timeout,
            interval=0.01,
            what=f"{alias} replaying the primary's WAL",
        )


def assert_restartable() -> None:
    """Fail before stopping a shared server that could not be started again.

    As root the stack runs PostgreSQL as `postgres`, and pg_ctl starts it with its input from
    /dev/null: a /dev/null that user cannot open (seen once: recreated with mode 0600) would leave
    the server down for everyone using the stack.
    """
    if os.geteuid() == 0 and shutil.which("runuser"):
        check = subprocess.run(
            ["runuser", "-u", "postgres", "--", "sh", "-c", "exec </dev/null >/dev/null"],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode != 0:
            pytest.fail(
                f"PostgreSQL could not be started again, so it is not stopped: {check.stderr.strip()}"
            )


def stop_servers(names: list[str]) -> None:
    assert_restartable()
    for name in names:
        localstack.stop_server(name)


def start_servers(names: list[str]) -> None:
    """Start stopped replicas again and wait until they have replayed the primary's writes."""
    for name in names:
        localstack.start_server(name)
    for alias in settings.REPLICA_ALIASES:
        connections[alias].close()
    wait_for_replay(timeout=30)  # a restarted standby first replays to a consistent state


def streaming_replicas() -> int:
    """Return how many standbys stream from the primary (0 while it is unreachable)."""
    try:
        return int(scalar("default", "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"))
    except OperationalError:
        connections["default"].close()
        return 0


def route_of(response) -> str:
    """Return the alias that served the request's reads, from its Server-Timing header."""
    for entry in response["Server-Timing"].split(","):
        name, _, desc = entry.strip().partition(";desc=")
        if name == "db-route":
            return desc.strip('"')
    raise AssertionError(f"no db-route in {response['Server-Timing']!r}")


def queries_by_alias(response) -> dict[str, int]:
    """Return {alias: queries} from a response's Server-Timing header."""
    counts = {}
    for entry in response["Server-Timing"].split(","):
        name, _, rest = entry.strip().partition(";")
        if name.startswith("db-") and name != "db-route":
            counts[name.removeprefix("db-")] = int(rest.rpartition('desc="')[2].split()[0])
    return counts


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class silent_listener:
    """A TCP listener that accepts connections and never answers: a hung server."""

    def __enter__(self) -> int:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.accepted = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        return self.sock.getsockname()[1]

    def _accept(self):
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                self.accepted.append(self.sock.accept()[0])
            except OSError:
                continue

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        for conn in self.accepted:
            conn.close()
        self.sock.close()


def other_session():
    """Return a new autocommit session on the test database: another process, in effect."""
    params = connection.get_connection_params()
    other = psycopg2.connect(**{key: value for key, value in params.items() if key != "cursor_factory"})
    other.autocommit = True
    return other


@dataclass
class Timed:
    label: str
    status: int
    seconds: float
    ok: bool
    response: object = field(repr=False)


@dataclass
class RequestLog:
    """Every request made during a fault: what it was, its status, whether that was the expected
    one, and how long it took. Safe to share between threads."""

    fault: str
    requests: list[Timed] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def timed(self, label: str, call: Callable[[], object], *, expect: tuple[int, ...] = (200,)):
        """Make a request, record its status and duration, and return its response."""
        started = time.perf_counter()
        response = call()
        took = time.perf_counter() - started
        with self._lock:
            self.requests.append(
                Timed(label, response.status_code, took, response.status_code in expect, response)
            )
        return response

    @property
    def failed(self) -> list[Timed]:
        return [timed for timed in self.requests if not timed.ok]

    @property
    def slowest(self) -> Timed:
        return max(self.requests, key=lambda timed: timed.seconds)

    def summary(self) -> str:
        statuses = Counter(timed.status for timed in self.requests)
        slowest = self.slowest
        return (
            f"{self.fault}: {len(self.requests)} requests "
            f"({', '.join(f'{count} x {status}' for status, count in sorted(statuses.items()))}), "
            f"{len(self.failed)} failed, slowest {slowest.seconds * 1000:.0f} ms ({slowest.label})"
        )
