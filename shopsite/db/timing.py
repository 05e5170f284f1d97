"""Per-request database timing: a Server-Timing header (when SERVER_TIMING is on), and a log line
for each slow query (always).

Every database alias gets an execute wrapper for the request (Django's instrumentation hook,
which works with DEBUG off): it counts the queries and their time per alias, and logs any query
slower than SLOW_QUERY_MS with the path, the alias, the duration and the SQL without its
parameters. Cache hits and misses come from the shop's cache helpers (shopsite.caching.versioned).
Management commands are timed the same way (shopsite.db.commands), "manage.py <command>" as path.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from contextlib import ExitStack
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connections

slow_log = logging.getLogger("shopsite.slow_queries")


@dataclass
class RequestTiming:
    path: str
    queries: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    cache_hits: int = 0
    cache_misses: int = 0


current_timing: ContextVar[RequestTiming | None] = ContextVar("shopsite_timing", default=None)


def count_cache(*, hit: bool) -> None:
    """Count a cache lookup of the current request, if there is one."""
    timing = current_timing.get()
    if timing is not None:
        if hit:
            timing.cache_hits += 1
        else:
            timing.cache_misses += 1


def count_query(alias: str, seconds: float) -> None:
    """Count a query the execute wrappers do not see (the async reads) for the current request."""
    timing = current_timing.get()
    if timing is not None:
        timing.queries[alias] += 1
        timing.seconds[alias] += seconds


class QueryTimingMiddleware:
    """Time every query of the request per alias; goes first in MIDDLEWARE, to see them all."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        timing = RequestTiming(path=request.path)
        token = current_timing.set(timing)
        started = time.perf_counter()
        try:
            with ExitStack() as stack:
                for alias in settings.DATABASES:
                    stack.enter_context(connections[alias].execute_wrapper(QueryTimer(timing, alias)))
                response = self.get_response(request)
        finally:
            current_timing.reset(token)
        entries = [
            f'db-{alias};dur={timing.seconds[alias] * 1000:.1f};desc="{_queries(count)}"'
            for alias, count in sorted(timing.queries.items())
        ]
        if timing.cache_hits or timing.cache_misses:
            entries.append(f'cache;desc="{timing.cache_hits} hits {timing.cache_misses} misses"')
        entries.append(f"app;dur={(time.perf_counter() - started) * 1000:.1f}")
        add_server_timing(response, *entries)
        return response


def add_server_timing(response, *entries: str) -> None:
    """Append entries to the response's Server-Timing header (each middleware adds its own),
    unless SERVER_TIMING is off: then the response has no such header at all."""
    if not settings.SERVER_TIMING:
        return
    existing = response.get("Server-Timing")
    response["Server-Timing"] = ", ".join([existing, *entries] if existing else entries)


def _queries(count: int) -> str:
    return f"{count} query" if count == 1 else f"{count} queries"


class QueryTimer:
    """An execute wrapper that counts and times one alias's queries, and logs the slow ones."""

    def __init__(self, timing: RequestTiming, alias: str):
        self.timing = timing
        self.alias = alias

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            took = time.perf_counter() - started
            self.timing.queries[self.alias] += 1
            self.timing.seconds[self.alias] += took
            if took * 1000 >= settings.SLOW_QUERY_MS:
                # The SQL with its placeholders only: parameters may hold customers' data.
                slow_log.warning(
                    "slow query: %.0f ms on %s for %s: %s", took * 1000, self.alias, self.timing.path, sql
                )
