"""A django-redis client that stops calling a Redis that does not answer, for a while.

django-redis ignores Redis errors (`IGNORE_EXCEPTIONS`), but each call still waits for its socket
timeout, and a page makes a dozen cache calls (namespace versions, lock, session): with a Redis
that accepts connections and never replies, every request would wait a dozen timeouts and a
worker pool would stall. Neither django-redis nor redis-py skips a server that keeps failing:
redis-py's `Retry` only retries (slower still), `health_check_interval` adds a PING, and its
circuit breakers (`redis.multidb`) belong to a different client for failing over between several
Redis deployments, built on the optional `pybreaker`.

So this client is a circuit breaker: after CIRCUIT_BREAKER_FAILURES consecutive connection
errors or timeouts, every cache call answers "not cached" at once, without touching the network,
for CIRCUIT_BREAKER_COOLOFF seconds; then one call tries Redis again (the others keep skipping
it), closing the circuit if it answers and opening it for another cool-off if not. The breaker
is per process (each gunicorn worker has its own) and per Redis URL, shared by its threads. It
logs once when it opens and once when it closes; the errors themselves are logged by django-redis
(DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS).
"""

from __future__ import annotations

import functools
import logging
import socket
import threading
import time
from contextvars import ContextVar

from django_redis.client import DefaultClient, SentinelClient
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger("shopsite.cache")

DEFAULT_FAILURES = 3
DEFAULT_COOLOFF = 5.0
# Errors that say Redis is unreachable; a ResponseError is an answer, so it is not one of them.
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, socket.timeout, OSError)


class CircuitBreaker:
    """Count consecutive failures of one Redis server; say whether to call it now."""

    def __init__(self, name: str, *, failures: int, cooloff: float):
        self.name = name
        self.failures = failures
        self.cooloff = cooloff
        self._lock = threading.Lock()
        self._consecutive = 0
        self._open_until: float | None = None  # None: closed
        self._probing = False

    @property
    def is_open(self) -> bool:
        return self._open_until is not None

    def allow(self) -> str | None:
        """Return "call" if a call may go to Redis now, "probe" if it is the one call that tries an
        open circuit again, or None if it must skip Redis."""
        with self._lock:
            if self._open_until is None:
                return "call"
            if self._probing or time.monotonic() < self._open_until:
                return None
            self._probing = True
            return "probe"

    def succeeded(self) -> None:
        with self._lock:
            self._consecutive = 0
            self._probing = False
            was_open, self._open_until = self._open_until is not None, None
        if was_open:
            logger.warning("redis %s answers again: cache calls resume (circuit closed)", self.name)

    def failed(self, *, probe: bool) -> None:
        with self._lock:
            self._consecutive += 1
            if probe:
                self._probing = False
            elif self._open_until is not None or self._consecutive < self.failures:
                return  # open already (this call was in flight when it opened), or not yet
            opens = self._open_until is None
            self._open_until = time.monotonic() + self.cooloff
        if opens:
            logger.warning(
                "redis %s failed %d times in a row: skipping it for %ss at a time until it answers"
                " (circuit open)",
                self.name,
                self.failures,
                self.cooloff,
            )
        else:
            logger.debug("redis %s still does not answer: skipped for another %ss", self.name, self.cooloff)

    def release_probe(self) -> None:
        """Let another call probe: the probe ended without telling whether Redis answers."""
        with self._lock:
            self._probing = False


_breakers: dict[tuple[str, int, float], CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(server: str, *, failures: int, cooloff: float) -> CircuitBreaker:
    """Return the process's breaker of a Redis server (one per URL and settings)."""
    key = (server, failures, cooloff)
    with _breakers_lock:
        if key not in _breakers:
            _breakers[key] = CircuitBreaker(_without_password(server), failures=failures, cooloff=cooloff)
        return _breakers[key]


def reset_breakers() -> None:
    """Forget every breaker's state (tests)."""
    with _breakers_lock:
        _breakers.clear()


def _without_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else url


# True inside a guarded call: its inner calls (add() calls set()) are part of it, not new calls.
_inside: ContextVar[bool] = ContextVar("shopsite_redis_guarded", default=False)


def _guarded(name: str):
    """Return a client method that skips the client's own while the circuit is open, and tells
    the breaker how each call went."""

    @functools.wraps(getattr(DefaultClient, name))
    def call(self, *args, **kwargs):
        method = getattr(super(CircuitBreakerMixin, self), name)
        if _inside.get():
            return method(*args, **kwargs)
        breaker = self.breaker
        permission = breaker.allow()
        if permission is None:
            return _skipped(name, args, kwargs)
        token = _inside.set(True)
        try:
            result = method(*args, **kwargs)
        except ConnectionInterrupted as error:
            if isinstance(error.__cause__, UNREACHABLE):
                breaker.failed(probe=permission == "probe")
            else:
                breaker.succeeded()  # Redis answered, with an error
            raise
        except BaseException:
            if permission == "probe":
                breaker.release_probe()  # failed before reaching Redis (a key or value it refused)
            raise
        finally:
            _inside.reset(token)
        if name in NO_ROUND_TRIP:
            if permission == "probe":
                breaker.release_probe()
        else:
            breaker.succeeded()
        return result

    return call


def _skipped(name: str, args: tuple, kwargs: dict):
    """Return what the cache backend returns for an ignored error of this call."""
    if name == "get":
        return kwargs["default"] if "default" in kwargs else (args[1] if len(args) > 1 else None)
    if name == "get_many":
        return {}
    return None


# The calls of Django's cache API, django-redis's extras the shop uses, and the session backend's.
GUARDED = (
    "get",
    "get_many",
    "set",
    "set_many",
    "add",
    "delete",
    "delete_many",
    "delete_pattern",
    "clear",
    "incr",
    "decr",
    "incr_version",
    "has_key",
    "touch",
    "ttl",
    "pttl",
    "expire",
    "persist",
    "lock",
)
# Calls that only build an object (a Lock talks to Redis when acquired): they tell nothing.
NO_ROUND_TRIP = frozenset({"lock"})


class CircuitBreakerMixin:
    """A circuit breaker around every cache call of a django-redis client.

    OPTIONS: CIRCUIT_BREAKER_FAILURES (consecutive connection errors that open the circuit, 3) and
    CIRCUIT_BREAKER_COOLOFF (seconds Redis is skipped before it is tried again, 5).
    """

    def __init__(self, server, params, backend):
        super().__init__(server, params, backend)
        self.breaker = breaker_for(
            ",".join(self._server),
            failures=int(self._options.get("CIRCUIT_BREAKER_FAILURES", DEFAULT_FAILURES)),
            cooloff=float(self._options.get("CIRCUIT_BREAKER_COOLOFF", DEFAULT_COOLOFF)),
        )


for _name in GUARDED:
    setattr(CircuitBreakerMixin, _name, _guarded(_name))


class CircuitBreakerClient(CircuitBreakerMixin, DefaultClient):
    """django-redis's default client, with the circuit breaker."""


class CircuitBreakerSentinelClient(CircuitBreakerMixin, SentinelClient):
    """django-redis's Sentinel client (docs/SCALING.md), with the circuit breaker."""
