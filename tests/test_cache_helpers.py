"""shopsite.caching.versioned: versioned namespaces, invalidation on commit, one rebuild at a time."""

import threading

import pytest
from django.core.cache import cache
from django.db import transaction

from shopsite.caching.keys import cache_key
from shopsite.caching.versioned import (
    get_or_build,
    namespace_bump,
    namespace_bump_on_commit,
    namespace_version,
)
from tests.redis_commands import redis_commands


def test_a_namespace_starts_at_a_fresh_version_and_bumps_by_one():
    first = namespace_version("things")
    namespace_bump("things")
    assert first > 1000
    assert namespace_version("things") == first + 1


def test_a_bump_of_a_lost_version_jumps_above_any_old_version():
    namespace_bump("never-seen")
    assert namespace_version("never-seen") > 1000


@pytest.mark.django_db(transaction=True)
def test_bump_on_commit_waits_for_the_commit_and_is_dropped_on_rollback():
    first = namespace_version("things")
    with transaction.atomic():
        namespace_bump_on_commit("things")
        assert namespace_version("things") == first
    assert namespace_version("things") == first + 1

    def bump_then_fail():
        with transaction.atomic():
            namespace_bump_on_commit("things")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        bump_then_fail()
    assert namespace_version("things") == first + 1


def test_get_or_build_builds_once_then_serves_the_cache():
    calls = []

    def build():
        calls.append(1)
        return {"answer": 42}

    assert get_or_build("things", "answer", build=build, timeout=60) == {"answer": 42}
    assert get_or_build("things", "answer", build=build, timeout=60) == {"answer": 42}
    assert len(calls) == 1


def test_a_cached_value_costs_one_redis_round_trip():
    get_or_build("things", "answer", build=lambda: 42, timeout=60)

    with redis_commands() as ran:
        assert get_or_build("things", "answer", build=lambda: 0, timeout=60) == 42

    assert ran == {"mget": 1}


def test_a_bump_makes_every_value_of_the_namespace_stale_and_no_other():
    get_or_build("things", "list", build=lambda: "old list", timeout=60)
    get_or_build("things", "count", build=lambda: "old count", timeout=60)
    get_or_build("others", "list", build=lambda: "other list", timeout=60)

    namespace_bump("things")

    assert get_or_build("things", "list", build=lambda: "new list", timeout=60) == "new list"
    assert get_or_build("things", "count", build=lambda: "new count", timeout=60) == "new count"
    assert get_or_build("others", "list", build=lambda: "rebuilt", timeout=60) == "other list"


def test_get_or_build_lets_one_thread_build_while_the_others_wait_for_its_value():
    calls = []
    started = threading.Barrier(5)

    def slow_build():
        calls.append(1)
        threading.Event().wait(0.3)
        return "built"

    results = []

    def reader():
        started.wait()
        results.append(get_or_build("things", "slow", build=slow_build, timeout=60, wait=5))

    threads = [threading.Thread(target=reader) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == ["built"] * 5
    assert len(calls) == 1


def test_get_or_build_builds_without_redis(settings):
    settings.CACHES = {
        "default": settings.CACHES["default"] | {"LOCATION": "redis://127.0.0.1:1/0"},
    }

    assert get_or_build("things", "any", build=lambda: "from the database", timeout=60) == "from the database"
    assert cache.get(cache_key("things", "any")) is None
    assert namespace_version("things") is None  # unknown: nothing may be cached under a guess
