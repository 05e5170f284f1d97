"""The cache is the test run's own Redis database, emptied before every test (tests/conftest.py).

Both tests read Redis itself: the cache answers a miss when Redis cannot be reached
(IGNORE_EXCEPTIONS), so a miss through the cache proves nothing.
"""

import pytest
from django.core.cache import cache
from django_redis import get_redis_connection

LEFT_BEHIND = "left-behind-by-an-earlier-test"


@pytest.fixture(scope="module")
def key_left_in_redis() -> str:
    """Write a key into Redis as an earlier test would, and return its Redis key.

    Module-scoped, so pytest sets it up before the function-scoped `_empty_cache` of the test
    using it: the key is there when the cache is emptied, whichever tests ran before, if any.
    """
    cache.set(LEFT_BEHIND, "stale", timeout=300)
    key = cache.make_key(LEFT_BEHIND)
    assert get_redis_connection("default").exists(key), "the key was not written: the test proves nothing"
    return key


def test_cache_round_trips_through_redis():
    cache.set("greeting", {"hello": "shop"}, timeout=30)

    assert cache.get("greeting") == {"hello": "shop"}
    # The value really is in Redis, under the test run's prefix.
    assert get_redis_connection("default").keys("shopsite-test:*greeting") == [
        cache.make_key("greeting").encode()
    ]


def test_cache_is_empty_at_the_start_of_each_test(key_left_in_redis):
    redis = get_redis_connection("default")

    assert not redis.exists(key_left_in_redis)
    assert redis.dbsize() == 0
