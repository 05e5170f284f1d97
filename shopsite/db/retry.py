"""`@retry_on_primary`: run a read-only view again on the primary when its replica fails under it.

Explicit and safe: only a view that carries the decorator is ever run twice, only for GET and
HEAD, only when the replica's connection is what failed (not a replica merely busy: after waiting
out its pooler's queue, its server is asked, see shopsite.db.replicas), and only when the first
run changed nothing a second run would repeat: no statement written to the primary, no change to the
session, no message added. Anything else goes on to Django's error handling (the 503 page of
shopsite.db.outage). Being a view decorator, it runs after every middleware's `process_view` and
inside every middleware, so it is right whatever MIDDLEWARE holds.
"""

from __future__ import annotations

import time
from functools import wraps

from django.db import InterfaceError, OperationalError, connections

from shopsite.db.replicas import PoolWaitTimeout, pool
from shopsite.db.router import PRIMARY, current_route

SAFE_METHODS = frozenset({"GET", "HEAD"})


def retry_on_primary(view):
    """Decorate a read-only view: a replica that fails under it is taken out, and the view runs
    once more with its reads on the primary."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        started = time.monotonic()
        try:
            return view(request, *args, **kwargs)
        except PoolWaitTimeout:
            raise  # a replica found busy, not down: answered 503 at once, never waited for twice
        except (OperationalError, InterfaceError) as error:
            route = current_route.get()
            failed = route.replica if route is not None else None
            if failed in (None, PRIMARY) or _connection_usable(failed) or not _unchanged(request, route):
                raise
            # Taken out; or, only busy behind its pooler, PoolWaitTimeout: the 503 page at once.
            pool.failed(failed, error, started)
            route.fall_back_to_primary()
        return view(request, *args, **kwargs)

    return wrapper


def _unchanged(request, route) -> bool:
    """Return True if running the request's view again repeats nothing it did."""
    session = getattr(request, "session", None)
    messages = getattr(request, "_messages", None)
    return (
        request.method in SAFE_METHODS
        and not route.wrote
        and not (session is not None and session.modified)
        and not getattr(messages, "added_new", False)
    )


def _connection_usable(alias: str) -> bool:
    connection = connections[alias]
    return connection.connection is not None and connection.is_usable()
