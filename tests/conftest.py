import os
import time
from decimal import Decimal
from pathlib import Path

import hypothesis
import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from zeal import zeal_context

# HYPOTHESIS_PROFILE=quick, for the development loop: each fuzz test tries a tenth of its examples.
# Unset (`make test`), each tries its full count.
HYPOTHESIS_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
hypothesis.settings.register_profile("quick", max_examples=10)
hypothesis.settings.load_profile(HYPOTHESIS_PROFILE)  # a profile it does not know is an error


def fuzz_examples(full: int) -> int:
    """Return how many examples a fuzz test tries: `full`, or a tenth of it (10 at least) when quick."""
    return max(10, full // 10) if HYPOTHESIS_PROFILE == "quick" else full


TESTS = Path(__file__).parent
# Each slow kind of test by where it lives: a new file there is marked without anyone remembering
# to (a module's `pytestmark` can be forgotten, and a forgotten one lands in the quick loop).
MARKS_BY_PLACE = {
    TESTS / "integration": "integration",
    TESTS / "e2e": "e2e",
    TESTS / "test_bench_smoke.py": "bench",
}


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by these marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests under tests/integration/ `integration`, under tests/e2e/ `e2e`, and the
    benchmarks' smoke test `bench`."""
    for item in items:
        for place, mark in MARKS_BY_PLACE.items():
            if item.path.is_relative_to(place):
                item.add_marker(mark)


@pytest.fixture(autouse=True)
def _raise_on_n_plus_one():
    """Fail any test whose code runs an N+1 query pattern (django-zeal)."""
    with zeal_context():
        yield


@pytest.fixture
def delivery_options(db):
    """Create the shop's delivery options, standard (preselected at checkout) and express; return both."""
    from tests.factories import DeliveryOptionFactory

    return (
        DeliveryOptionFactory(
            name="Standard delivery", price=Decimal("4.95"), days_min=3, days_max=5, position=0
        ),
        DeliveryOptionFactory(
            name="Express delivery", price=Decimal("12.50"), days_min=1, days_max=2, position=1
        ),
    )


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


@pytest.fixture
def media_root(settings, tmp_path) -> Path:
    """Point the pictures' storage (MEDIA_ROOT) at an empty folder of the test's own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT
