"""The middleware that routes each request's reads (see shopsite.db.router): it opens the
request's Route, marks it when a statement on the primary writes, and remembers the primary's
WAL position in a signed cookie after a write (read-your-writes)."""

from __future__ import annotations

import re

from django.conf import settings
from django.core import signing
from django.db import connections
from django.http import HttpRequest

from shopsite.db.replicas import parse_lsn
from shopsite.db.router import PRIMARY, Route, current_route
from shopsite.db.timing import add_server_timing

# Statements that change nothing; anything else on the primary counts as a write.
READ_ONLY = re.compile(
    r"[\s(]*(SELECT|SHOW|EXPLAIN|SET|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|DECLARE|FETCH|CLOSE)\b",
    re.IGNORECASE,
)
WRITE_IN_CTE = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE)\b", re.IGNORECASE)
COOKIE_SALT = "shopsite.read-your-writes"


class ReplicaRoutingMiddleware:
    """Route the request's reads, and remember the primary's WAL position after a write.

    Goes near the top of MIDDLEWARE, so that it sees the session being saved as a write.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        route = Route(
            pin_primary=request.path.startswith(settings.ADMIN_URL_PREFIX),
            required_lsn=self._client_lsn(request),
        )
        token = current_route.set(route)
        try:
            with connections[PRIMARY].execute_wrapper(_WriteDetector(route)):
                response = self.get_response(request)
            if route.wrote:
                self._remember_lsn(response)
            elif route.caught_up:
                response.delete_cookie(settings.READ_YOUR_WRITES_COOKIE)
            add_server_timing(response, f'db-route;desc="{"+".join(sorted(route.served)) or "none"}"')
            return response
        finally:
            current_route.reset(token)

    def _client_lsn(self, request) -> int | None:
        return client_lsn(request.COOKIES.get(settings.READ_YOUR_WRITES_COOKIE))

    def _remember_lsn(self, response) -> None:
        with connections[PRIMARY].cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_lsn()::text")
            (lsn,) = cursor.fetchone()
        response.set_signed_cookie(
            settings.READ_YOUR_WRITES_COOKIE,
            str(parse_lsn(lsn)),
            salt=COOKIE_SALT,
            max_age=settings.READ_YOUR_WRITES_SECONDS,
            httponly=True,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
        )


def client_lsn(cookie: str | None) -> int | None:
    """Return the WAL position of the client's last write from its read-your-writes cookie, or
    None: no cookie, or a forged, expired or garbled one (as if none)."""
    if cookie is None:
        return None
    # Through a bare HttpRequest: the live endpoints (shopsite.live) have no request of Django's.
    holder = HttpRequest()
    holder.COOKIES[settings.READ_YOUR_WRITES_COOKIE] = cookie
    try:
        value = holder.get_signed_cookie(
            settings.READ_YOUR_WRITES_COOKIE, salt=COOKIE_SALT, max_age=settings.READ_YOUR_WRITES_SECONDS
        )
        return int(value)
    except (signing.BadSignature, ValueError):
        return None


class _WriteDetector:
    """An execute wrapper on the primary that marks the route when a statement writes."""

    def __init__(self, route: Route):
        self.route = route

    def __call__(self, execute, sql, params, many, context):
        if not self.route.wrote and _writes(sql):
            self.route.note_write()
        return execute(sql, params, many, context)


def _writes(sql: str) -> bool:
    if READ_ONLY.match(sql):
        return False
    if sql.lstrip(" \t\n(")[:4].upper() == "WITH":
        return bool(WRITE_IN_CTE.search(sql))
    return True
