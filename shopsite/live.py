"""The live endpoints: requests that only wait for the database, answered in front of Django's
request cycle, on the event loop under ASGI and by its sync twin under WSGI.

GET /live/stock?ids=1,2,3 returns those products' stock and price as JSON (catalog.live), read
where the router's rules say: a healthy replica within the lag limits, or the primary while the
client's read-your-writes cookie says no replica has replayed its write yet.

- `asgi(django_app)` (shopsite.asgi) also opens the async pools at the server's lifespan startup
  and closes them at shutdown (shopsite.db.async_pool).
- `wsgi(django_app)` (shopsite.wsgi) answers the same URL with the same query, the same route and
  the same bytes, through Django's connections: the sync twin bench/async_io.py compares.

Why in front of Django, not a view: behind the middleware stack, an async view pays a thread
hop per sync or MiddlewareMixin middleware (most of the stack), more than the query it waits
for. These endpoints use nothing the middleware gives (no session, no user, no form), so they
skip it and keep what matters here: the allowed hosts, the route, Server-Timing, nosniff and
no-store, and the 503 page when no database connection can be had.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import parse_qs

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host

from catalog import live
from shopsite.db import async_pool
from shopsite.db.outage import is_database_unreachable, outage_response
from shopsite.db.replicas import PoolWaitTimeout, error_summary
from shopsite.db.replicas import pool as replicas
from shopsite.db.router import PRIMARY, Route, current_route
from shopsite.db.routing import client_lsn

STOCK_PATH = "/live/stock"


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def asgi(django_app):
    """Return the ASGI application: the pools' lifespan and the live endpoints, then Django."""

    async def application(scope, receive, send):
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http" or scope["path"] != STOCK_PATH:
            await django_app(scope, receive, send)
            return
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        asked = _asked(scope["method"], headers.get("host", ""), scope["query_string"].decode("latin-1"))
        if isinstance(asked, Answer):
            answer = asked
        else:
            answer = await _stock(asked, headers.get("cookie", ""))
        if scope["method"] == "HEAD":
            answer.body = b""
        raw = [(name.lower().encode(), value.encode("latin-1")) for name, value in answer.headers]
        await send({"type": "http.response.start", "status": answer.status, "headers": raw})
        await send({"type": "http.response.body", "body": answer.body})

    return application


def wsgi(django_app):
    """Return the WSGI application: the live endpoints' sync twin, then Django."""

    def application(environ, start_response):
        if environ.get("PATH_INFO") != STOCK_PATH:
            return django_app(environ, start_response)
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        asked = _asked(environ["REQUEST_METHOD"], host, environ.get("QUERY_STRING", ""))
        if isinstance(asked, Answer):
            answer = asked
        else:
            # What Django's request_started and request_finished do for its own requests.
            close_old_connections()
            try:
                answer = _stock_sync(asked, environ.get("HTTP_COOKIE", ""))
            finally:
                close_old_connections()
        status = HTTPStatus(answer.status)
        start_response(f"{status.value} {status.phrase}", answer.headers)
        return [b"" if environ["REQUEST_METHOD"] == "HEAD" else answer.body]

    return application


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await async_pool.open_pools()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await async_pool.close_pools()
            await send({"type": "lifespan.shutdown.complete"})
            return


def _asked(method: str, host: str, query_string: str) -> list[int] | Answer:
    """Return the product ids asked for, or the answer to a request that cannot have them."""
    if not _allowed_host(host):
        return _json(HTTPStatus.BAD_REQUEST, {"error": "this host is not served here"})
    if method not in ("GET", "HEAD"):
        answer = _json(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "GET only"})
        answer.headers.append(("Allow", "GET, HEAD"))
        return answer
    try:
        return live.parse_ids(parse_qs(query_string).get("ids", [None])[-1])
    except live.BadIds as error:
        return _json(HTTPStatus.BAD_REQUEST, {"error": str(error)})


async def _stock(ids: list[int], cookie_header: str) -> Answer:
    route = _route(cookie_header)
    token = current_route.set(route)
    try:
        try:
            rows, _ = await live.stock_levels(ids, route)
        except async_pool.UNREACHABLE as error:
            failed = route.fall_back_to_primary()
            if failed is None:
                raise  # the primary: the 503 page
            replicas.take_out(failed, error_summary(error))
            rows, _ = await live.stock_levels(ids, route)
    except (async_pool.PoolTimeout, *async_pool.UNREACHABLE):
        return _page(outage_response())  # no connection free within the wait, or no database
    finally:
        current_route.reset(token)
    return _rows(rows, route)


def _stock_sync(ids: list[int], cookie_header: str) -> Answer:
    route = _route(cookie_header)
    token = current_route.set(route)
    try:
        started = time.monotonic()
        try:
            rows = live.stock_levels_sync(ids)
        except DatabaseError as error:
            if not is_database_unreachable(error) or route.replica in (None, PRIMARY):
                raise
            replicas.failed(route.replica, error, started)  # PoolWaitTimeout: only busy
            route.fall_back_to_primary()
            rows = live.stock_levels_sync(ids)
    except (PoolWaitTimeout, DatabaseError) as error:
        if not is_database_unreachable(error):
            raise
        return _page(outage_response())
    finally:
        current_route.reset(token)
    return _rows(rows, route)


def _route(cookie_header: str) -> Route:
    cookies = parse_cookie(cookie_header)
    return Route(required_lsn=client_lsn(cookies.get(settings.READ_YOUR_WRITES_COOKIE)))


def _rows(rows: list[tuple], route: Route) -> Answer:
    answer = _json(HTTPStatus.OK, live.as_json(rows))
    if settings.SERVER_TIMING:
        answer.headers.append(("Server-Timing", f'db-route;desc="{"+".join(sorted(route.served))}"'))
    return answer


def _allowed_host(host: str) -> bool:
    domain, _ = split_domain_port(host)
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]  # what Django allows then
    return bool(domain) and validate_host(domain, allowed)


def _json(status: HTTPStatus, document: dict) -> Answer:
    body = json.dumps(document, separators=(",", ":")).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        # Live by definition, and it depends on the client's read-your-writes cookie.
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
    ]
    return Answer(int(status), headers, body)


def _page(response) -> Answer:
    headers = [*response.items(), ("Content-Length", str(len(response.content)))]
    return Answer(response.status_code, headers, response.content)
