"""A database that cannot be reached answers 503 with a friendly page and `Retry-After`, not 500.

This lives in Django's error handlers (`handler500`, and `handler400` for a session that could
not be saved; see shopsite.urls), not in a middleware's `process_exception`, which would miss
some: a session that cannot be saved fails in SessionMiddleware's `process_response`, after
every `process_exception` has run. Every uncaught exception, wherever it was raised,
reaches an error handler, and the response it returns still goes out through the middleware
around the one that failed (security headers, Server-Timing).

Which failures: a connection that cannot be opened or was lost (refused, timed out, closed, the
server shutting down or starting up, no connection slot left), on any alias. In practice that is
the primary: a replica that fails under a read-only view is retried on the primary
(shopsite.db.retry), and reads keep going to the replicas while the primary is down, so
catalog pages stay up and what writes (a cart change, a login, a checkout) gets this page.
Behind PgBouncer, a pool with no server connection free within its wait (query_wait_timeout)
disconnects the client, which looks like a lost connection: the same 503, after at most that wait.
Errors of a statement (a lock timeout, a deadlock, a constraint) are not outages: they stay 500.
"""

from __future__ import annotations

import sys

from django.conf import settings
from django.contrib.sessions.exceptions import SessionInterrupted
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.views import defaults

from shopsite.db.replicas import PoolWaitTimeout
from shopsite.errors import bad_request_page

# SQLSTATEs of a server that cannot serve connections: class 08 (connection exception), the
# server shutting down or crashed (57P01, 57P02), starting up or shutting down (57P03), no
# connection slot left (53300). A client-side failure (refused, timeout, lost) has no SQLSTATE.
UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})


def is_database_unreachable(error: BaseException | None) -> bool:
    """Return True if the error says a database server cannot be reached, not that a statement failed."""
    if isinstance(error, InterfaceError | PoolWaitTimeout):  # closed already; or a pool full
        return True
    if not isinstance(error, OperationalError):
        return False
    sqlstate = getattr(error.__cause__, "pgcode", None)
    return sqlstate is None or sqlstate.startswith("08") or sqlstate in UNAVAILABLE_SQLSTATES


def outage_response() -> HttpResponse:
    """Return the 503 page; rendered without the request, so it needs no session, user or query."""
    seconds = settings.OUTAGE_RETRY_AFTER_SECONDS
    wait = f"{seconds} seconds" if seconds < 90 else f"{round(seconds / 60)} minutes"
    response = HttpResponse(render_to_string("503.html", {"retry_after_text": wait}), status=503)
    response["Retry-After"] = str(seconds)
    response["Cache-Control"] = "no-store"
    # Set here: when the session could not be saved, the clickjacking middleware, which runs
    # inside the session middleware, never sees this response.
    response["X-Frame-Options"] = settings.X_FRAME_OPTIONS
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """Handle an uncaught exception: 503 if a database cannot be reached, Django's 500 otherwise."""
    if is_database_unreachable(sys.exc_info()[1]):
        return outage_response()
    return defaults.server_error(request)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Handle a 400: 503 if it is a session that could not be saved to an unreachable database,
    else the shop's 400 page (shopsite.errors), rendered without the request.

    Django's database session backend turns any database error on saving an existing session
    into UpdateError, which the session middleware reports as SessionInterrupted, a 400.
    """
    if isinstance(exception, SessionInterrupted) and any(map(is_database_unreachable, _chain(exception))):
        return outage_response()
    return bad_request_page()


def _chain(error: BaseException | None):
    """Yield the error, then the error it was raised from or while handling, and so on."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__
