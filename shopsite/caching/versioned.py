"""Cache helpers: versioned namespaces, invalidation on commit, one rebuild at a time.

A namespace ("catalog", "dashboard") has a version number kept in Redis. Each entry records the
version it was built in and is read together with the current version (one MGET), so a write
that changes the namespace's data bumps the version once (in `transaction.on_commit`) and every
older entry is a miss from then on, rebuilt on demand or expiring on its own: no `KEYS` scan, no
list of keys to delete. When Redis is down every read degrades to "not cached": callers compute
from the database.

A version that is missing (never set, evicted, Redis restarted empty) starts at a number no
version of the namespace can have had (microseconds since the epoch, far above every version
handed out before: a namespace is bumped far less than once a microsecond), so an entry built
long ago never matches again. That is what makes it safe for Redis to evict versions like any
other key (`allkeys-lru`): losing one only makes the namespace's entries misses.

A bump that does not happen would leave old data served until its entries expire, so a bump is
never silent: it is retried a few times, straight on the Redis connection (not through the
cache's ignored errors and circuit breaker), and then raises NamespaceBumpFailed. After a commit
that cannot be undone, a request logs it as an ERROR; a command collects it
(`failed_bumps_collected`) and exits non-zero, saying how to bump by hand (`manage.py cache_bump`).
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TypeVar

from django.core.cache import cache
from django.db import transaction
from redis.exceptions import RedisError

from shopsite.caching.keys import cache_key, version_key
from shopsite.db.timing import count_cache

logger = logging.getLogger("shopsite.cache")

T = TypeVar("T")

# Every namespace of the shop: `manage.py cache_bump` refuses any other name (a typo bumps nothing).
NAMESPACES = ("catalog", "dashboard", "orders")
VERSION_TIMEOUT = None  # versions do not expire; if evicted, they start again from fresh_version()
BUMP_ATTEMPTS = 3
BUMP_BACKOFF = 0.1  # seconds before the second attempt, doubled before each next one
MISSING = object()

# INCR an existing version; set a missing one to a fresh start (INCR would make it 1, a version
# old entries may hold). One script: nothing can evict or set the key between the check and the write.
BUMP_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then
    return redis.call('INCR', KEYS[1])
end
redis.call('SET', KEYS[1], ARGV[1])
return tonumber(ARGV[1])
"""


class NamespaceBumpFailed(Exception):
    """A namespace's version could not be bumped: its cached entries may show data from before
    a committed write until they expire."""

    def __init__(self, namespace: str, cause: BaseException):
        self.namespace = namespace
        super().__init__(
            f"the bump of cache namespace {namespace!r} failed {BUMP_ATTEMPTS} times ({cause}): "
            f"its cached pages may show data older than this write until they expire. "
            f"Once Redis answers, run: manage.py cache_bump {namespace}"
        )


# The bumps on commit that failed inside failed_bumps_collected(); None outside one.
_failed_bumps: ContextVar[list[NamespaceBumpFailed] | None] = ContextVar("failed_bumps", default=None)


def fresh_version() -> int:
    """Return a starting version no namespace can have had: microseconds since the epoch."""
    return time.time_ns() // 1000


def namespace_version(namespace: str) -> int | None:
    """Return the current version of a namespace, starting a missing one at a fresh version;
    None when Redis does not answer (then nothing may be cached)."""
    key = version_key(namespace)
    version = cache.get(key)
    if version is None:
        fresh = fresh_version()
        # add() is atomic: if another process set it meanwhile, keep theirs.
        added = cache.add(key, fresh, VERSION_TIMEOUT)
        if added is None:  # an error django-redis ignored, or the circuit breaker skipped Redis
            return None
        version = fresh if added else cache.get(key)
    return None if version is None else int(version)


def namespace_version_and_value(
    namespace: str, key: str, *, also: tuple[str, ...] = ()
) -> tuple[int | tuple[int, ...] | None, object | None]:
    """Return the namespace's version (None if never set) and the value of `key` (None if
    missing), in one round trip: for a value that records the version it was built in. With
    `also`, the version is the tuple of every namespace's, None if any was never set."""
    found = cache.get_many([*_version_keys(namespace, also), key])
    return _versions(found, namespace, also), found.get(key)


def values_of_version(namespace: str, keys: list[str], *, also: tuple[str, ...] = ()) -> dict[str, object]:
    """Return the value of each key if it was built in the namespace's current version (and, with
    `also`, theirs), else MISSING, in one round trip (the versions and every key in one MGET)."""
    found = cache.get_many([*_version_keys(namespace, also), *keys])
    version = _versions(found, namespace, also)
    return {key: value_of_version(found.get(key), version) for key in keys}


def values_of_versions(namespace: str, keys: dict[str, tuple[str, ...]]) -> dict[str, object]:
    """Return each key's value if it was built in the current version of the namespace and of
    the namespaces it also depends on (`keys`: {key: those namespaces}), else MISSING: every
    version and every key in one MGET."""
    others = tuple(sorted({name for also in keys.values() for name in also}))
    found = cache.get_many([*_version_keys(namespace, others), *keys])
    return {
        key: value_of_version(found.get(key), _versions(found, namespace, also)) for key, also in keys.items()
    }


def _version_keys(namespace: str, also: tuple[str, ...]) -> list[str]:
    return [version_key(name) for name in (namespace, *also)]


def _versions(found: dict, namespace: str, also: tuple[str, ...]) -> int | tuple[int, ...] | None:
    versions = [found.get(key) for key in _version_keys(namespace, also)]
    if any(version is None for version in versions):
        return None
    return tuple(int(version) for version in versions) if also else int(versions[0])


def namespace_versions(namespace: str, also: tuple[str, ...] = ()) -> int | tuple[int, ...] | None:
    """Return namespace_version() of the namespace, or the tuple of its and `also`'s; None if
    Redis does not answer."""
    versions = [namespace_version(name) for name in (namespace, *also)]
    if any(version is None for version in versions):
        return None
    return tuple(versions) if also else versions[0]


def namespace_bump(namespace: str, *, attempts: int = BUMP_ATTEMPTS) -> int:
    """Move a namespace to a new version, so that every key built with the old one is stale, and
    return it; retry `attempts` times in all, then raise NamespaceBumpFailed."""
    key = cache.make_key(version_key(namespace))
    failure: BaseException | None = None
    for attempt in range(attempts):
        try:
            # The raw connection: the cache's own calls ignore errors, and a bump must not.
            redis = cache.client.get_client(write=True)
            return int(redis.eval(BUMP_SCRIPT, 1, key, fresh_version()))
        except (RedisError, OSError) as error:
            failure = error
            logger.warning(
                "bump of cache namespace %r, attempt %d, failed: %s",
                namespace,
                attempt + 1,
                error,
            )
            if attempt + 1 < attempts:
                time.sleep(BUMP_BACKOFF * 2**attempt)  # a short back-off: Redis may be restarting
    raise NamespaceBumpFailed(namespace, failure)


def namespace_bump_on_commit(namespace: str) -> None:
    """Bump the namespace once the current transaction commits (now, outside a transaction)."""
    transaction.on_commit(lambda: _bump_after_commit(namespace))


def namespace_touch_on_commit(namespace: str) -> None:
    """Give the namespace a new version once the current transaction commits, best effort: one
    call through the cache's circuit breaker, an error only logged. For entries that are cached
    a short while anyway (the dashboard's live blocks), where a missed touch costs staleness
    bounded by their timeout, and a hot write path (checkout) must not wait for retries."""
    transaction.on_commit(lambda: cache.set(version_key(namespace), fresh_version(), VERSION_TIMEOUT))


def _bump_after_commit(namespace: str) -> None:
    try:
        namespace_bump(namespace)
    except NamespaceBumpFailed as failure:
        # The write is committed and stays: the request still answers, the log says what to do.
        logger.error("%s", failure)
        collected = _failed_bumps.get()
        if collected is not None:
            collected.append(failure)


@contextlib.contextmanager
def failed_bumps_collected() -> Iterator[list[NamespaceBumpFailed]]:
    """Yield a list that holds, after the block, every bump on commit inside it that failed: a
    command reports them and exits non-zero."""
    collected: list[NamespaceBumpFailed] = []
    token = _failed_bumps.set(collected)
    try:
        yield collected
    finally:
        _failed_bumps.reset(token)


def _set_if_picklable(key: str, entry: object, timeout: int) -> None:
    """Cache an entry, unless it cannot be pickled (a product's details nested deeper than
    pickle recurses, written around the import's checks): it is then served uncached."""
    try:
        cache.set(key, entry, timeout)
    except (pickle.PicklingError, RecursionError) as error:
        logger.warning("%s not cached: its value cannot be pickled (%s)", key, type(error).__name__)


def value_of_version(entry: object, version: int | None) -> object:
    """Return the value of an entry `(version built in, value)` if it was built in `version`,
    else MISSING (no entry, no version, or an older one)."""
    if entry is None or version is None or entry[0] != version:
        return MISSING
    return entry[1]


def get_or_build(
    namespace: str,
    *parts: object,
    build: Callable[[], T],
    timeout: int,
    wait: float = 2.0,
    also: tuple[str, ...] = (),
) -> T:
    """Return the cached value named by `parts` in the namespace, or build it: one process builds
    while the others wait up to `wait` seconds for its result (then build it themselves rather
    than fail).

    The key is `cache_key(namespace, *parts)`: parts taken from a request never collide. A hit is
    one round trip: an MGET of the namespace's version and the entry, which records the version
    it was built in. An entry of another version is a miss, so a bump makes every entry of the
    namespace stale at once, without deleting any. With `also`, an entry is valid only while
    those namespaces keep their versions too (read in the same round trip).
    """
    key = cache_key(namespace, *parts)
    version, entry = namespace_version_and_value(namespace, key, also=also)

    value = value_of_version(entry, version)
    count_cache(hit=value is not MISSING)
    if value is not MISSING:
        return value
    if version is None:
        version = namespace_versions(namespace, also)
        if version is None:  # Redis does not answer: nothing to cache it in
            return build()
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
            _set_if_picklable(key, (version, value), timeout)
            return value
        finally:
            with contextlib.suppress(RedisError):  # it expires on its own
                lock.release()
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        time.sleep(0.02)  # a poll interval, bounded by the deadline
        value = value_of_version(cache.get(key), version)
        if value is not MISSING:
            return value
    logger.info("waited %.1fs for another process to build %s: building it here", wait, key)
    return build()
