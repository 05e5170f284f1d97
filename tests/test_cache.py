from django.core.cache import cache
from django_redis import get_redis_connection


def test_cache_round_trips_through_redis():
    cache.set("greeting", {"hello": "shop"}, timeout=30)
    assert cache.get("greeting") == {"hello": "shop"}
    # The value really is in Redis, under the test run's prefix.
    keys = get_redis_connection("default").keys("shopsite-test:*greeting")
    assert len(keys) == 1


def test_cache_is_empty_at_the_start_of_each_test():
    assert cache.get("greeting") is None
