import time

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from zeal import zeal_context


@pytest.fixture(autouse=True)
def _raise_on_n_plus_one():
    """Fail any test whose code runs an N+1 query pattern (django-zeal)."""
    with zeal_context():
        yield


@pytest.fixture(autouse=True)
def _empty_cache():
    """Start every test with the test run's own Redis database empty."""
    cache.clear()


def wait_for_replicas(*, timeout: float = 10.0) -> None:
    """Wait until every replica has replayed the primary's current WAL position; fail after `timeout` s.

    Rows a transactional test commits reach the replicas a few milliseconds later: call this
    before a request that reads from a replica (a `live_server` page). The test needs the replica
    aliases among its databases, e.g. `pytest.mark.django_db(transaction=True, databases="__all__")`.
    """
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        (target,) = cursor.fetchone()
    deadline = time.monotonic() + timeout
    for alias in settings.REPLICA_ALIASES:
        while True:
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])
                (replayed,) = cursor.fetchone()
            if replayed:
                break
            if time.monotonic() >= deadline:
                pytest.fail(
                    f"replica {alias!r} did not replay the primary's WAL up to {target} within {timeout} s"
                    " (is it a streaming replica, and is it running?)"
                )
            time.sleep(0.01)  # a poll interval, bounded by the deadline above
