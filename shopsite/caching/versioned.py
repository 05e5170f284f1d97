"""Cache helpers: versioned namespaces, invalidation on commit, one rebuild at a time.

A namespace ("catalog", "dashboard") has a version number kept in Redis. Each entry records the
version it was built in and is read together with the current version (one MGET), so a write
that changes the namespace's data bumps the version once (in `transaction.on_commit`) and every
older entry is a miss from then on, rebuilt on demand or expiring on its own: no `KEYS` scan, no
list of keys to delete. When Redis is down every helper degrades to "not cached": callers
compute from the database.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from django.db import transaction
from redis.exceptions import RedisError

from shopsite.db.timing import count_cache

logger = logging.getLogger("shopsite.cache")

T = TypeVar("T")

VERSION_TIMEOUT = None  # namespace versions never expire: a lost version would resurrect old keys
MISSING = object()


def namespace_version(namespace: str) -> int:
    """Return the current version of a namespace (1 if it was never bumped)."""
    version = cache.get(f"ns:{namespace}")
    if version is None:
        # add() is atomic: if another process set it meanwhile, keep theirs.
        cache.add(f"ns:{namespace}", 1, VERSION_TIMEOUT)
        version = cache.get(f"ns:{namespace}", 1)
    return int(version)


def namespace_version_and_value(namespace: str, key: str) -> tuple[int | None, object | None]:
    """Return the namespace's version (None if never set) and the value of `key` (None if
    missing), in one round trip: for a value that records the version it was built in."""
    found = cache.get_many([f"ns:{namespace}", key])
    version = found.get(f"ns:{namespace}")
    return (None if version is None else int(version)), found.get(key)


def namespace_bump(namespace: str) -> None:
    """Move a namespace to a new version: every key built with the old one is stale."""
    try:
        cache.incr(f"ns:{namespace}")
    except ValueError:  # never set, or evicted: start above any version a reader may have cached
        cache.set(f"ns:{namespace}", int(time.time()), VERSION_TIMEOUT)


def namespace_bump_on_commit(namespace: str) -> None:
    """Bump the namespace once the current transaction commits (now, outside a transaction)."""
    transaction.on_commit(lambda: namespace_bump(namespace))


def value_of_version(entry: object, version: int | None) -> object:
    """Return the value of an entry `(version built in, value)` if it was built in `version`,
    else MISSING (no entry, no version, or an older one)."""
    if entry is None or version is None or entry[0] != version:
        return MISSING
    return entry[1]


def get_or_build(
    namespace: str, *parts: object, build: Callable[[], T], timeout: int, wait: float = 2.0
) -> T:
    """Return the cached value named by `parts` in the namespace, or build it: one process builds
    while the others wait up to `wait` seconds for its result (then build it themselves rather
    than fail).

    A hit is one round trip: an MGET of the namespace's version and the entry, which records the
    version it was built in. An entry of another version is a miss, so a bump makes every entry
    of the namespace stale at once, without deleting any.
    """
    key = ":".join([namespace, *map(str, parts)])
    version, entry = namespace_version_and_value(namespace, key)

    value = value_of_version(entry, version)
    count_cache(hit=value is not MISSING)
    if value is not MISSING:
        return value
    if version is None:
        version = namespace_version(namespace)
    lock = cache.lock(f"lock:{key}", timeout=max(int(wait * 5), 10), blocking_timeout=0)
    if lock is None:  # the cache client skipped Redis (an ignored error, or its circuit is open)
        return build()
    try:
        acquired = lock.acquire(blocking=False)
    except RedisError:
        logger.warning("cache lock for %s unavailable: building without it", key)
        return build()
    if acquired:
        try:
            value = build()
            cache.set(key, (version, value), timeout)
            return value
        finally:
            with contextlib.suppress(RedisError):  # it expires on its own
                lock.release()
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        time.sleep(0.02)
        value = value_of_version(cache.get(key), version)
        if value is not MISSING:
            return value
    logger.info("waited %.1fs for another process to build %s: building it here", wait, key)
    return build()
