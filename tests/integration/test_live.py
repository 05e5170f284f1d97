"""GET /live/stock (shopsite.live) against the stack's real servers: the ASGI endpoint on the event
loop over the async pools, its sync twin under WSGI, the router's rules on both, bad input, and a
full pool answered with the 503 page."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connections
from django.http import HttpResponse
from django.test import AsyncClient
from django.test.utils import CaptureQueriesContext

from shopsite import live
from shopsite.db import async_pool
from shopsite.db.replicas import ReplicaState, pool
from shopsite.db.routing import COOKIE_SALT
from tests.factories import CategoryFactory, ProductFactory
from tests.integration.faults import wait_for_replay
from tests.integration.pools import with_pools

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not settings.REPLICA_ALIASES, reason="no replica configured"),
    pytest.mark.django_db(transaction=True, databases="__all__"),
]

FAR_FUTURE_LSN = 2**62  # a write no replica has replayed: the primary must answer


def not_django(scope, receive, send):
    raise AssertionError(f"{scope['path']} was handed to Django")


ASGI = live.asgi(not_django)
WSGI = live.wsgi(not_django)


async def asgi_get(path: str, *, method: str = "GET", headers: dict[str, str] | None = None):
    """Call the ASGI application as a server does; return (status, headers, body)."""
    path, _, query = path.partition("?")
    sent = {"host": "testserver", **(headers or {})}
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query.encode(),
        "headers": [(name.encode(), value.encode()) for name, value in sent.items()],
    }
    messages = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        messages.append(message)

    await ASGI(scope, receive, send)
    start, *body = messages
    return (
        start["status"],
        {k.decode(): v.decode() for k, v in start["headers"]},
        b"".join(m["body"] for m in body),
    )


def wsgi_get(path: str, *, method: str = "GET", headers: dict[str, str] | None = None):
    """Call the WSGI application as a server does; return (status, headers, body)."""
    path, _, query = path.partition("?")
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "HTTP_HOST": "testserver"}
    environ |= {"HTTP_" + name.upper().replace("-", "_"): value for name, value in (headers or {}).items()}
    started = {}

    def start_response(status, response_headers):
        started["status"], started["headers"] = (
            int(status.split()[0]),
            {k.lower(): v for k, v in response_headers},
        )

    body = b"".join(WSGI(environ, start_response))
    return started["status"], started["headers"], body


def route(headers: dict[str, str]) -> str:
    return headers["server-timing"].split('desc="')[1].rstrip('"')


def behind_cookie(lsn: int) -> str:
    """Return a Cookie header with a valid read-your-writes cookie for `lsn`."""
    response = HttpResponse()
    response.set_signed_cookie(settings.READ_YOUR_WRITES_COOKIE, str(lsn), salt=COOKIE_SALT)
    return f"{settings.READ_YOUR_WRITES_COOKIE}={response.cookies[settings.READ_YOUR_WRITES_COOKIE].value}"


@pytest.fixture(autouse=True)
def _fresh_replicas(settings):
    settings.SERVER_TIMING = True
    pool.reset()
    yield
    pool.reset()


@pytest.fixture
def products():
    shirts = CategoryFactory(slug="shirts")
    made = {
        "plenty": ProductFactory(category=shirts, stock=50, price=Decimal("19.99")),
        "few": ProductFactory(category=shirts, stock=3, price=Decimal("1200.50")),
        "none": ProductFactory(category=shirts, stock=0, price=Decimal("5.00")),
        "withdrawn": ProductFactory(category=shirts, stock=9, is_active=False),
    }
    wait_for_replay()
    return made


def ids_of(*products) -> str:
    return ",".join(str(product.pk) for product in products)


def test_the_async_endpoint_and_its_sync_twin_answer_the_same_document(products):
    unknown = max(product.pk for product in products.values()) + 1000
    path = f"/live/stock?ids={ids_of(*products.values())},{unknown}"
    async_status, async_headers, async_body = asyncio.run(asgi_get(path))
    sync_status, sync_headers, sync_body = wsgi_get(path)
    assert async_status == sync_status == 200
    assert async_body == sync_body
    document = json.loads(async_body)
    plenty, few, none = products["plenty"], products["few"], products["none"]
    # Unknown and withdrawn products are left out; the rest by id, with what a page shows.
    assert document == {
        "products": [
            {"id": plenty.pk, "stock": 50, "in_stock": True, "label": "In stock", "price": "19.99"},
            {"id": few.pk, "stock": 3, "in_stock": True, "label": "Only 3 left", "price": "1200.50"},
            {"id": none.pk, "stock": 0, "in_stock": False, "label": "Out of stock", "price": "5.00"},
        ]
    }
    for headers in (async_headers, sync_headers):
        assert headers["content-type"] == "application/json"
        assert headers["cache-control"] == "no-store"
        assert headers["x-content-type-options"] == "nosniff"
        assert route(headers) in settings.REPLICA_ALIASES


def test_with_pools_open_the_answer_is_the_same(products):
    path = f"/live/stock?ids={ids_of(products['few'])}"
    status, headers, body = asyncio.run(with_pools(asgi_get(path)))
    assert status == 200
    assert body == wsgi_get(path)[2]
    assert route(headers) in settings.REPLICA_ALIASES


BAD_IDS = [
    "",
    "ids=",
    "ids=a",
    "ids=1,,2",
    "ids=-1",
    "ids=0",
    "ids=1.5",
    "ids=" + "9" * 30,
    "ids=1;DROP TABLE x",
    "ids=" + ",".join(["1"] * 101),
]


@pytest.mark.parametrize("query", BAD_IDS)
def test_bad_ids_get_a_400_that_says_why(query):
    for status, headers, body in (
        asyncio.run(asgi_get(f"/live/stock?{query}")),
        wsgi_get(f"/live/stock?{query}"),
    ):
        assert status == 400
        assert headers["content-type"] == "application/json"
        assert "ids" in json.loads(body)["error"]


def test_only_get_and_head_are_answered(products):
    path = f"/live/stock?ids={ids_of(products['few'])}"
    for status, headers, _ in (asyncio.run(asgi_get(path, method="POST")), wsgi_get(path, method="POST")):
        assert status == 405
        assert headers["allow"] == "GET, HEAD"
    for status, _, body in (asyncio.run(asgi_get(path, method="HEAD")), wsgi_get(path, method="HEAD")):
        assert (status, body) == (200, b"")


def test_a_host_the_site_does_not_serve_is_a_400(products):
    path = f"/live/stock?ids={ids_of(products['few'])}"
    for status, _, body in (
        asyncio.run(asgi_get(path, headers={"host": "evil.example"})),
        wsgi_get(path, headers={"host": "evil.example"}),
    ):
        assert status == 400
        assert json.loads(body) == {"error": "this host is not served here"}


def test_interleaved_requests_on_one_loop_each_route_by_their_own_cookie(products):
    """Twenty requests in flight at once on one event loop, half from a client whose write no
    replica has replayed: the route is each request's own (a ContextVar), never a neighbour's."""
    path = f"/live/stock?ids={ids_of(products['plenty'], products['few'])}"
    behind = behind_cookie(FAR_FUTURE_LSN)

    async def twenty():
        return await asyncio.gather(
            *(asgi_get(path, headers={"cookie": behind} if n % 2 else {}) for n in range(20))
        )

    answers = asyncio.run(with_pools(twenty()))
    for n, (status, headers, _) in enumerate(answers):
        assert status == 200
        if n % 2:
            assert route(headers) == "default"
        else:
            assert route(headers) in settings.REPLICA_ALIASES


def test_a_client_whose_write_a_replica_has_replayed_reads_from_the_replica(products):
    path = f"/live/stock?ids={ids_of(products['few'])}"
    _, headers, _ = asyncio.run(asgi_get(path, headers={"cookie": behind_cookie(1)}))
    assert route(headers) in settings.REPLICA_ALIASES
    _, headers, _ = wsgi_get(path, headers={"cookie": behind_cookie(FAR_FUTURE_LSN)})
    assert route(headers) == "default"


def test_a_forged_read_your_writes_cookie_is_ignored(products):
    path = f"/live/stock?ids={ids_of(products['few'])}"
    forged = f"{settings.READ_YOUR_WRITES_COOKIE}={FAR_FUTURE_LSN}:forged"
    for _, headers, _ in (
        asyncio.run(asgi_get(path, headers={"cookie": forged})),
        wsgi_get(path, headers={"cookie": forged}),
    ):
        assert route(headers) in settings.REPLICA_ALIASES


def test_with_no_healthy_replica_the_primary_answers(products):
    path = f"/live/stock?ids={ids_of(products['few'])}"
    for alias in settings.REPLICA_ALIASES:
        pool.take_out(alias, "taken out by the test")
    for status, headers, body in (asyncio.run(asgi_get(path)), wsgi_get(path)):
        assert status == 200
        assert route(headers) == "default"
        assert json.loads(body)["products"][0]["stock"] == 3


def test_a_replica_failing_under_the_query_is_taken_out_and_the_primary_answers(
    products, monkeypatch, settings
):
    real = async_pool.connection

    def failing_on_replicas(alias):
        if alias != "default":
            raise ConnectionResetError("connection to server lost (the test)")
        return real(alias)

    # Every replica passed its last check a moment ago: the query, not a check, is what fails.
    settings.REPLICA_CHECK_INTERVAL = 3600
    for alias in settings.REPLICA_ALIASES:
        pool._states[alias] = ReplicaState(healthy=True, checked_at=time.monotonic())
    monkeypatch.setattr(async_pool, "connection", failing_on_replicas)
    status, headers, body = asyncio.run(asgi_get(f"/live/stock?ids={ids_of(products['few'])}"))
    assert status == 200
    assert route(headers) == "default"
    assert json.loads(body)["products"][0]["stock"] == 3
    taken_out = [alias for alias in settings.REPLICA_ALIASES if not pool._states[alias].healthy]
    assert len(taken_out) == 1
    assert "connection to server lost" in pool._states[taken_out[0]].reason


def test_a_full_pool_answers_the_503_page_without_waiting_long(products, settings):
    settings.ASYNC_POOL = {**settings.ASYNC_POOL, "size": 1, "timeout": 0.2}
    path = f"/live/stock?ids={ids_of(products['few'])}"

    async def with_every_connection_taken():
        held = [async_pool.connection(alias) for alias in settings.DATABASES]
        for connection in held:
            await connection.__aenter__()
        try:
            return await asgi_get(path)
        finally:
            for connection in held:
                await connection.__aexit__(None, None, None)

    status, headers, body = asyncio.run(with_pools(with_every_connection_taken()))
    assert status == 503
    assert headers["retry-after"] == str(settings.OUTAGE_RETRY_AFTER_SECONDS)
    assert headers["content-type"].startswith("text/html")
    assert b"<html" in body.lower()


def test_the_lifespan_opens_a_pool_per_database_and_closes_them(products):
    async def lifespan():
        inbox = asyncio.Queue()
        outbox = []
        for message in ("lifespan.startup", "lifespan.shutdown"):
            inbox.put_nowait({"type": message})

        async def receive():
            message = await inbox.get()
            if message["type"] == "lifespan.shutdown":
                outbox.append(("open", sorted(async_pool._pools)))
            return message

        async def send(message):
            outbox.append(message["type"])

        await ASGI({"type": "lifespan"}, receive, send)
        return outbox, sorted(async_pool._pools)

    outbox, after = asyncio.run(lifespan())
    assert outbox == [
        "lifespan.startup.complete",
        ("open", sorted(settings.DATABASES)),
        "lifespan.shutdown.complete",
    ]
    assert after == []


def test_every_other_path_is_handed_to_django():
    handed = []

    async def django_app(scope, receive, send):
        handed.append(scope["path"])

    asyncio.run(live.asgi(django_app)({"type": "http", "path": "/live/stock/", "headers": []}, None, None))
    assert handed == ["/live/stock/"]
    assert live.wsgi(lambda environ, start_response: [environ["PATH_INFO"].encode()])(
        {"PATH_INFO": "/"}, None
    ) == [b"/"]


def test_django_pages_under_asgi_route_each_interleaved_request_by_its_own_cookie(products):
    """The shop's own pages through Django's ASGI handler, many at once on one loop: each
    request's route (the routing middleware's ContextVar) is its own."""
    url = f"/p/{products['few'].slug}/"
    behind = behind_cookie(FAR_FUTURE_LSN)

    fresh, writer = AsyncClient(), AsyncClient()
    name, _, value = behind.partition("=")
    writer.cookies[name] = value

    async def many():
        return await asyncio.gather(*((writer if n % 2 else fresh).get(url) for n in range(10)))

    for n, response in enumerate(asyncio.run(many())):
        assert response.status_code == 200
        served = response["Server-Timing"].split('db-route;desc="')[1].split('"')[0]
        if n % 2:
            assert served == "default"
        else:
            assert served in settings.REPLICA_ALIASES


@pytest.mark.parametrize("count", [1, 24])
def test_the_stock_of_any_number_of_products_is_one_query_on_a_replica(count, settings):
    made = ProductFactory.create_batch(count, category=CategoryFactory(slug="many"))
    wait_for_replay()
    # Every replica passed its check a moment ago: no health check among the counted queries.
    settings.REPLICA_CHECK_INTERVAL = 3600
    for alias in settings.REPLICA_ALIASES:
        pool._states[alias] = ReplicaState(healthy=True, checked_at=time.monotonic())
    with contextlib.ExitStack() as stack:
        captured = {
            alias: stack.enter_context(CaptureQueriesContext(connections[alias]))
            for alias in settings.DATABASES
        }
        status, _, body = wsgi_get(f"/live/stock?ids={ids_of(*made)}")
    assert status == 200
    assert len(json.loads(body)["products"]) == count
    counts = {alias: len(queries) for alias, queries in captured.items() if len(queries)}
    assert list(counts.values()) == [1], counts
    assert set(counts) <= set(settings.REPLICA_ALIASES)
