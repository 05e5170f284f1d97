"""Live endpoints: requests that only wait for the database, answered in front of Django's request
cycle, on the event loop under ASGI and by a sync twin under WSGI.

Each path of LIVE_ENDPOINTS names two functions of an app, the same read twice:
`async def endpoint(query, route) -> Answer`, which reads through shopsite.db.async_pool, and
`def endpoint_sync(query, route) -> Answer`, which reads through Django's connections. `query` is
the parsed query string; `route` is the request's Route (shopsite.db.router), already made from
the client's read-your-writes cookie: a read asks it where to go (`await route.aread_alias()`, or
the router for the twin). An endpoint raises BadRequest for input it cannot take.

- `asgi(django_app)` (shopsite.asgi) opens the async pools at the server's lifespan startup and
  closes them at shutdown, and answers the live paths on the event loop;
- `wsgi(django_app)` (shopsite.wsgi) answers them with the sync twins: the same query, route and
  bytes, which bench/async_io.py compares.
Every other request goes to Django.

Why in front of Django, not a view: behind the middleware stack, an async view pays a thread
hop per sync or MiddlewareMixin middleware (most of the stack), more than the query it waits
for. These endpoints use nothing the middleware gives (no session, no user, no form), so they
skip it and keep what matters here: the allowed hosts, GET and HEAD only, the route, a replica
that fails taken out and the read retried on the primary (the endpoints only read),
Server-Timing, nosniff and no-store, and the 503 page when no database connection can be had.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import cache
from http import HTTPStatus
from urllib.parse import parse_qs

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host
from django.utils.module_loading import import_string

from shopsite.db import async_pool
from shopsite.db.outage import is_database_unreachable, outage_response
from shopsite.db.replicas import PoolWaitTimeout, error_summary
from shopsite.db.replicas import pool as replicas
from shopsite.db.router import PRIMARY, Route, current_route
from shopsite.db.routing import client_lsn


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class BadRequest(ValueError):
    """The request's input cannot be answered: its message is the 400's."""


def json_answer(document: dict, status: HTTPStatus = HTTPStatus.OK) -> Answer:
    body = json.dumps(document, separators=(",", ":")).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        # Live by definition, and it depends on the client's read-your-writes cookie.
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
    ]
    return Answer(int(status), headers, body)


def asgi(django_app):
    """Return the ASGI application: the pools' lifespan and the live endpoints, then Django."""

    async def application(scope, receive, send):
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        endpoint = _endpoints().get(scope["path"]) if scope["type"] == "http" else None
        if endpoint is None:
            await django_app(scope, receive, send)
            return
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        query_string = scope["query_string"].decode("latin-1")
        answer = _refused(scope["method"], headers.get("host", ""))
        if answer is None:
            answer = await _answer(endpoint[0], parse_qs(query_string), headers.get("cookie", ""))
        if scope["method"] == "HEAD":
            answer.body = b""
        raw = [(name.lower().encode(), value.encode("latin-1")) for name, value in answer.headers]
        await send({"type": "http.response.start", "status": answer.status, "headers": raw})
        await send({"type": "http.response.body", "body": answer.body})

    return application


def wsgi(django_app):
    """Return the WSGI application: the live endpoints' sync twins, then Django."""

    def application(environ, start_response):
        endpoint = _endpoints().get(environ.get("PATH_INFO", ""))
        if endpoint is None:
            return django_app(environ, start_response)
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        answer = _refused(environ["REQUEST_METHOD"], host)
        if answer is None:
            # What Django's request_started and request_finished do for its own requests.
            close_old_connections()
            try:
                query = parse_qs(environ.get("QUERY_STRING", ""))
                answer = _answer_sync(endpoint[1], query, environ.get("HTTP_COOKIE", ""))
            finally:
                close_old_connections()
        status = HTTPStatus(answer.status)
        start_response(f"{status.value} {status.phrase}", answer.headers)
        return [b"" if environ["REQUEST_METHOD"] == "HEAD" else answer.body]

    return application


@cache
def _endpoints() -> dict[str, tuple]:
    return {
        path: (import_string(names[0]), import_string(names[1]))
        for path, names in settings.LIVE_ENDPOINTS.items()
    }


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


def _refused(method: str, host: str) -> Answer | None:
    """Return the answer to a request no endpoint takes (a host not served, a method not read)."""
    if not _allowed_host(host):
        return json_answer({"error": "this host is not served here"}, HTTPStatus.BAD_REQUEST)
    if method not in ("GET", "HEAD"):
        answer = json_answer({"error": "GET only"}, HTTPStatus.METHOD_NOT_ALLOWED)
        answer.headers.append(("Allow", "GET, HEAD"))
        return answer
    return None


async def _answer(endpoint, query: dict, cookie_header: str) -> Answer:
    route = _route(cookie_header)
    token = current_route.set(route)
    try:
        try:
            answer = await endpoint(query, route)
        except async_pool.UNREACHABLE as error:
            failed = route.fall_back_to_primary()
            if failed is None:
                raise  # the primary: the 503 page
            replicas.take_out(failed, error_summary(error))
            answer = await endpoint(query, route)
    except BadRequest as error:
        return json_answer({"error": str(error)}, HTTPStatus.BAD_REQUEST)
    except (async_pool.PoolTimeout, *async_pool.UNREACHABLE):
        return _page(outage_response())  # no connection free within the wait, or no database
    finally:
        current_route.reset(token)
    return _timed(answer, route)


def _answer_sync(endpoint, query: dict, cookie_header: str) -> Answer:
    route = _route(cookie_header)
    token = current_route.set(route)
    try:
        started = time.monotonic()
        try:
            answer = endpoint(query, route)
        except DatabaseError as error:
            if not is_database_unreachable(error) or route.replica in (None, PRIMARY):
                raise
            replicas.failed(route.replica, error, started)  # PoolWaitTimeout: only busy
            route.fall_back_to_primary()
            answer = endpoint(query, route)
    except BadRequest as error:
        return json_answer({"error": str(error)}, HTTPStatus.BAD_REQUEST)
    except (PoolWaitTimeout, DatabaseError) as error:
        if not is_database_unreachable(error):
            raise
        return _page(outage_response())
    finally:
        current_route.reset(token)
    return _timed(answer, route)


def _route(cookie_header: str) -> Route:
    cookies = parse_cookie(cookie_header)
    return Route(required_lsn=client_lsn(cookies.get(settings.READ_YOUR_WRITES_COOKIE)))


def _timed(answer: Answer, route: Route) -> Answer:
    if settings.SERVER_TIMING:
        answer.headers.append(("Server-Timing", f'db-route;desc="{"+".join(sorted(route.served))}"'))
    return answer


def _allowed_host(host: str) -> bool:
    domain, _ = split_domain_port(host)
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]  # what Django allows then
    return bool(domain) and validate_host(domain, allowed)


def _page(response) -> Answer:
    headers = [*response.items(), ("Content-Length", str(len(response.content)))]
    return Answer(response.status_code, headers, response.content)
