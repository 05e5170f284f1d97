"""The shop under faults, against the stack's real servers: Redis stopped or silent, replicas
stopped or lagging, the primary stopped, the reports refreshed under load.

Each fault test records every request it makes during the fault (RequestLog) and prints the
figures the hardening issue asks for: requests, failures, the slowest. Servers are always
started again in a `finally`, and the test waits until they answer (and the replicas stream).
"""

import os
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.sessions.backends import cached_db
from django.core.cache import cache
from django.core.management import call_command
from django.db import OperationalError, connections, transaction
from django.db.backends.postgresql.base import DatabaseWrapper
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_redis import get_redis_connection
from redis.client import Redis

from accounts.models import Order
from reports.models import RefreshLog
from reports.services import VIEW_DEPENDENCIES, reports_refresh
from shopsite import localstack
from shopsite.caching.redis_client import reset_breakers
from shopsite.db.outage import is_database_unreachable
from shopsite.db.replicas import pool
from tests.accounts.helpers import form_of, place_order
from tests.factories import AddressFactory, CategoryFactory, CustomerFactory, ProductFactory, UserFactory
from tests.integration.faults import (
    RequestLog,
    assert_restartable,
    closed_port,
    other_session,
    poll,
    primary_wait,
    queries_by_alias,
    route_of,
    silent_listener,
    start_servers,
    stop_servers,
    streaming_replicas,
    wait_for_replay,
)
from tests.reports.helpers import empty_report_views, make_sales

STACK_ENV = localstack.urls() if localstack.ENV_FILE.exists() else {}
ON_LOCAL_STACK = STACK_ENV.get("DATABASE_URL") == os.environ.get("DATABASE_URL")
local_stack_only = pytest.mark.skipif(
    not ON_LOCAL_STACK, reason="stops and starts servers: only against the local stack"
)
needs_replicas = pytest.mark.skipif(not settings.REPLICA_ALIASES, reason="no replica configured")

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True, databases="__all__")]

PASSWORD = "correct horse battery"
DASHBOARD = "/admin/reports/dashboard/"
REDIS = settings.CACHES["default"]["OPTIONS"]
REDIS_CALL_TIMEOUT = REDIS["SOCKET_TIMEOUT"]  # what one cache call to a silent Redis waits
BREAKER_FAILURES = REDIS["CIRCUIT_BREAKER_FAILURES"]
# Beyond the waits on a server: rendering the heaviest page (the dashboard read from its views)
# from the database, on a shared two-core machine where other test runs are going on.
MARGIN = 1.5
PAGE_SECONDS = 0.5  # a page from the database under that load, at most
HEALTHZ_TOKEN = {"X-Healthz-Token": "faults-healthz-token"}  # /healthz's servers' state needs it


@pytest.fixture(autouse=True)
def _fresh_state(settings):
    """Every replica presumed healthy, checked often and back soon; every Redis breaker closed."""
    settings.REPLICA_CHECK_INTERVAL = 0.2
    settings.REPLICA_BACKOFF_SECONDS = 0.5
    settings.HEALTHZ_TOKEN = HEALTHZ_TOKEN["X-Healthz-Token"]
    pool.reset()
    reset_breakers()
    yield
    pool.reset()
    reset_breakers()


@pytest.fixture
def shop(delivery_options):
    shirts = CategoryFactory(slug="shirts", name="Shirts", facets=["color"])
    product = ProductFactory(
        category=shirts, slug="red-shirt", stock=500, price=Decimal("20.00"), details={"color": "red"}
    )
    other = ProductFactory(
        category=shirts, slug="blue-shirt", stock=500, price=Decimal("25.00"), details={"color": "blue"}
    )
    AddressFactory(customer=CustomerFactory(user=UserFactory(username="ada"), email="ada@example.com"))
    AddressFactory(customer=CustomerFactory(user=UserFactory(username="grace"), email="grace@example.com"))
    UserFactory(username="boss", is_staff=True, is_superuser=True)
    wait_for_replay()
    return {
        "home": reverse("catalog:home"),
        "category": reverse("catalog:category", args=["shirts"]),
        "product_page": reverse("catalog:product", args=["red-shirt"]),
        "product": product,
        "other": other,
    }


def logged_in(username: str, **client_options) -> Client:
    client = Client(**client_options)
    response = client.post(reverse("accounts:login"), {"username": username, "password": PASSWORD})
    assert response.status_code == 302, f"{username} could not log in: {response.status_code}"
    return client


def add_to_cart(client: Client, product, quantity: int = 1):
    return client.post(reverse("accounts:cart_add"), {"product_id": product.pk, "quantity": quantity})


def cart_of(client: Client) -> dict[str, int]:
    """Return the cart kept in the client's session, read through the session engine."""
    return dict(client.session.get("cart", {}))


def every_page(log: RequestLog, shop, *, anonymous: Client, customer: Client, staff: Client) -> None:
    """Load every page once: the catalog anonymously, the customer's pages, the staff dashboard."""
    for label, url in [
        ("home", shop["home"]),
        ("category", shop["category"]),
        ("product", shop["product_page"]),
    ]:
        log.timed(label, lambda url=url: anonymous.get(url))
    log.timed("healthz", lambda: anonymous.get(reverse("healthz")))
    log.timed("cart", lambda: customer.get(reverse("accounts:cart")))
    log.timed("checkout", lambda: customer.get(reverse("accounts:checkout")))
    log.timed("orders", lambda: customer.get(reverse("accounts:orders")))
    log.timed("dashboard", lambda: staff.get(DASHBOARD))


def login_and_logout(log: RequestLog) -> None:
    """Log in, see the orders page as the customer, log out, and be sent to log in again."""
    client = Client()
    log.timed(
        "login",
        lambda: client.post(reverse("accounts:login"), {"username": "grace", "password": PASSWORD}),
        expect=(302,),
    )
    log.timed("orders after login", lambda: client.get(reverse("accounts:orders")))
    log.timed("logout", lambda: client.post(reverse("accounts:logout")), expect=(302,))
    log.timed("orders after logout", lambda: client.get(reverse("accounts:orders")), expect=(302,))


def most_cache_calls_per_request(shop, *, anonymous, customer, staff) -> dict[str, int]:
    """Return how many Redis commands each page sends with a cold cache (the most it ever does)."""
    calls = 0
    execute = Redis.execute_command

    def counted(self, *args, **options):
        nonlocal calls
        calls += 1
        return execute(self, *args, **options)

    measured = {}
    log = RequestLog("counting")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Redis, "execute_command", counted)
        for label, client, url in [
            ("home", anonymous, shop["home"]),
            ("category", anonymous, shop["category"]),
            ("product", anonymous, shop["product_page"]),
            ("cart", customer, reverse("accounts:cart")),
            ("checkout", customer, reverse("accounts:checkout")),
            ("orders", customer, reverse("accounts:orders")),
            ("dashboard", staff, DASHBOARD),
        ]:
            get_redis_connection("default").flushdb()  # cold: sessions, versions and entries all gone
            before = calls
            log.timed(label, lambda client=client, url=url: client.get(url))
            measured[label] = calls - before
    assert not log.failed, log.failed
    return measured


def redis_bound(calls_per_request: int) -> float:
    """Return the most a request may take while Redis does not answer.

    Each cache call to a silent Redis waits REDIS_CALL_TIMEOUT (the kernel completes the TCP
    handshake from the listen backlog, so the connect itself is immediate; a stopped Redis refuses
    at once). Without the circuit breaker a request would wait once per cache call it makes; with
    it, at most BREAKER_FAILURES calls of the process fail before every later call skips Redis,
    and after each cool-off a single call tries it again.
    """
    return min(calls_per_request, BREAKER_FAILURES) * REDIS_CALL_TIMEOUT + MARGIN


def served_from_the_database(response) -> bool:
    return sum(queries_by_alias(response).values()) > 0


@pytest.fixture
def _page_cache_on(settings):
    """The whole-page cache of cookie-less visitors as in production: one more user of Redis."""
    settings.PAGE_CACHE_SECONDS = 10


@pytest.fixture
def _sessions_read_from_the_database(settings):
    """Without Redis, logging out reads the session twice from PostgreSQL, in Django's own code
    (once to load it, once in the db backend's delete()): not an N+1 of the shop's, but django-zeal
    cannot tell."""
    settings.ZEAL_ALLOWLIST = [{"model": "sessions.Session", "field": "get()"}]


def cache_hits(response) -> int:
    """Return the shop's cache hits of a request, from its Server-Timing header (0 if none)."""
    for entry in response["Server-Timing"].split(","):
        name, _, desc = entry.strip().partition(";desc=")
        if name == "cache":
            return int(desc.strip('"').split()[0])
    return 0


# --- Redis stopped --------------------------------------------------------------------------


@local_stack_only
@pytest.mark.usefixtures("_page_cache_on", "_sessions_read_from_the_database")
def test_with_redis_stopped_every_page_answers_from_the_database_and_sessions_survive_its_restart(
    shop, settings, caplog
):
    # A short cool-off: Redis is tried again soon after it is back.
    settings.CACHES = {
        "default": settings.CACHES["default"]
        | {"OPTIONS": settings.CACHES["default"]["OPTIONS"] | {"CIRCUIT_BREAKER_COOLOFF": 1.0}}
    }
    anonymous, customer, staff = Client(), logged_in("ada"), logged_in("boss")
    assert add_to_cart(customer, shop["product"], 2).status_code == 303
    calls = most_cache_calls_per_request(shop, anonymous=anonymous, customer=customer, staff=staff)
    bound = redis_bound(max(calls.values()))
    before = RequestLog("Redis up")
    every_page(before, shop, anonymous=anonymous, customer=customer, staff=staff)  # warm the cache
    session_key = customer.session.session_key
    log = RequestLog("Redis stopped")

    assert_restartable()
    stopped = time.monotonic()
    localstack.stop_redis()
    try:
        for _ in range(3):
            every_page(log, shop, anonymous=anonymous, customer=customer, staff=staff)
        login_and_logout(log)
        log.timed("cart add", lambda: add_to_cart(customer, shop["other"], 1), expect=(303,))
        health = log.timed("healthz", lambda: anonymous.get(reverse("healthz"), headers=HEALTHZ_TOKEN))
    finally:
        localstack.start_redis()  # and waits for PING
        down_for = time.monotonic() - stopped
    redis_state = health.json()["redis"]
    session_in_redis = cache.make_key(f"{cached_db.KEY_PREFIX}{session_key}")
    restarted_empty = not get_redis_connection("default").exists(session_in_redis)
    # After the cool-off, one call finds Redis again: the cache is filled and read again.
    poll(lambda: cache_hits(anonymous.get(shop["home"])) > 0, timeout=10, what="cache hits again")
    after = RequestLog("Redis restarted")
    orders = after.timed("orders", lambda: customer.get(reverse("accounts:orders")))
    cart_page = after.timed("cart", lambda: customer.get(reverse("accounts:cart")))

    print(f"\n{log.summary()}; bound {bound:.2f}s; Redis down {down_for:.1f}s; cold cache calls {calls}")
    assert not log.failed, log.failed
    assert log.slowest.seconds < bound, log.summary()
    assert redis_state["up"] is False
    pages = [timed for timed in log.requests if timed.status == 200]
    assert [timed.label for timed in pages if not served_from_the_database(timed.response)] == []
    assert not [timed.label for timed in log.requests if cache_hits(timed.response)]
    ignored = [
        r for r in caplog.records if r.name == "shopsite.cache" and r.getMessage() == "Exception ignored"
    ]
    opened = [r for r in caplog.records if r.name == "shopsite.cache" and "circuit open" in r.getMessage()]
    closed = [r for r in caplog.records if r.name == "shopsite.cache" and "circuit closed" in r.getMessage()]
    assert ignored
    assert ignored[0].exc_info is not None  # each error Redis raised, with its traceback
    assert len(opened) == 1
    assert len(closed) == 1
    # Redis came back empty (no persistence), yet the customer is still logged in with the cart,
    # including the line added while Redis was down: sessions are kept in PostgreSQL too.
    assert restarted_empty
    assert not after.failed, after.failed
    assert orders.wsgi_request.user.username == "ada"
    assert cart_of(customer) == {str(shop["product"].pk): 2, str(shop["other"].pk): 1}
    assert shop["other"].name in cart_page.content.decode()


# --- Redis silent ---------------------------------------------------------------------------


def silent_redis(settings, port: int) -> None:
    """Point the cache at a listener that accepts connections and never answers."""
    location = settings.CACHES["default"]["LOCATION"].rsplit(":", 1)[0] + f":{port}/0"
    settings.CACHES = {"default": settings.CACHES["default"] | {"LOCATION": location}}


@pytest.mark.usefixtures("_page_cache_on", "_sessions_read_from_the_database")
def test_with_redis_silent_every_request_is_bounded_and_nothing_is_lost(shop, settings, caplog):
    anonymous, customer, staff = Client(), logged_in("ada"), logged_in("boss")
    assert add_to_cart(customer, shop["product"], 2).status_code == 303
    calls = most_cache_calls_per_request(shop, anonymous=anonymous, customer=customer, staff=staff)
    bound = redis_bound(max(calls.values()))
    log = RequestLog("Redis silent")

    with silent_listener() as port:
        silent_redis(settings, port)
        for _ in range(3):
            every_page(log, shop, anonymous=anonymous, customer=customer, staff=staff)
        login_and_logout(log)
        log.timed("cart add", lambda: add_to_cart(customer, shop["other"], 1), expect=(303,))
        cart_page = log.timed("cart", lambda: customer.get(reverse("accounts:cart")))

    print(f"\n{log.summary()}; bound {bound:.2f}s; cache calls per cold request {calls}")
    assert not log.failed, log.failed
    assert log.slowest.seconds < bound, log.summary()
    assert shop["other"].name in cart_page.content.decode()
    messages = [r.getMessage() for r in caplog.records if r.name == "shopsite.cache"]
    assert "Exception ignored" in messages
    assert len([m for m in messages if "circuit open" in m]) == 1


@pytest.mark.usefixtures("_page_cache_on")
def test_with_redis_silent_concurrent_requests_all_finish_in_bounded_time(shop, settings):
    threads_count, requests_each = 8, 6
    customers = [logged_in("ada") for _ in range(threads_count // 2)]
    log = RequestLog(f"Redis silent, {threads_count} threads")
    errors: list[BaseException] = []
    start = threading.Barrier(threads_count)

    def worker(index: int) -> None:
        try:
            # Half anonymous visitors, half the logged-in customer, each with their own client.
            client = customers[index // 2] if index % 2 else Client()
            urls = [shop["home"], shop["category"], shop["product_page"]]
            if index % 2:
                urls += [reverse("accounts:cart"), reverse("accounts:orders")]
            start.wait(timeout=30)
            for n in range(requests_each):
                url = urls[n % len(urls)]
                log.timed(f"thread {index} {url}", lambda url=url: client.get(url))
        except BaseException as error:  # reported by the test
            errors.append(error)
        finally:
            connections.close_all()  # this thread's own connections

    with silent_listener() as port:
        silent_redis(settings, port)
        per_request = redis_bound(100)  # however many cache calls a request makes
        # A thread's requests one after the other: the calls that open the circuit, the call that
        # tries Redis again after a cool-off, and each page from the database. Without the breaker
        # every cache call of every request would wait: requests_each x calls x timeout.
        deadline = (BREAKER_FAILURES + 1) * REDIS_CALL_TIMEOUT + requests_each * PAGE_SECONDS + MARGIN
        threads = [threading.Thread(target=worker, args=(index,)) for index in range(threads_count)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(deadline - (time.monotonic() - started), 0))
        took = time.monotonic() - started
        stalled = [thread.name for thread in threads if thread.is_alive()]
        for thread in threads:  # should any still run, let it end before the listener closes
            thread.join(timeout=60)

    print(
        f"\n{log.summary()}; all done in {took:.2f}s (bound {deadline:.2f}s, per request {per_request:.2f}s)"
    )
    assert not stalled, f"still running after {deadline:.1f}s: {stalled}"
    assert not errors, errors
    assert len(log.requests) == threads_count * requests_each
    assert not log.failed, log.failed
    assert log.slowest.seconds < per_request, log.summary()


# --- Replicas stopped or lagging, with the checkout flow -------------------------------------


def checkout_flow(log: RequestLog, shop) -> int:
    """A customer logs in, browses, fills the cart, checks out and sees the order; a visitor browses."""
    customer, visitor = Client(), Client()
    log.timed(
        "login",
        lambda: customer.post(reverse("accounts:login"), {"username": "ada", "password": PASSWORD}),
        expect=(302,),
    )
    for label, url in [
        ("home", shop["home"]),
        ("category", shop["category"]),
        ("product", shop["product_page"]),
    ]:
        log.timed(label, lambda url=url: customer.get(url))
        log.timed(f"visitor {label}", lambda url=url: visitor.get(url))
    log.timed("cart add", lambda: add_to_cart(customer, shop["product"], 2), expect=(303,))
    log.timed("cart", lambda: customer.get(reverse("accounts:cart")))
    shown = log.timed("checkout", lambda: customer.get(reverse("accounts:checkout")))
    place = form_of(shown)  # what "Place order" sends: the confirmation, the address and delivery shown
    placed = log.timed(
        "place order", lambda: customer.post(reverse("accounts:checkout"), place), expect=(303,)
    )
    order = Order.objects.filter(customer__user__username="ada").latest("pk")
    page = log.timed("order", lambda: customer.get(placed["Location"]))
    history = log.timed("orders", lambda: customer.get(reverse("accounts:orders")))
    assert placed["Location"] == reverse("accounts:order", args=[order.pk])
    assert f"#{order.pk}" in page.content.decode()
    assert f"#{order.pk}" in history.content.decode()
    return order.pk


@needs_replicas
@local_stack_only
def test_the_checkout_flow_works_on_the_primary_while_every_replica_is_stopped(shop):
    names = list(settings.REPLICA_ALIASES)
    log = RequestLog("every replica stopped")
    stopped = time.monotonic()
    stop_servers(names)
    try:
        checkout_flow(log, shop)
        browsing = log.timed("visitor category", lambda: Client().get(shop["category"]))
    finally:
        start_servers(names)
        down_for = time.monotonic() - stopped

    print(f"\n{log.summary()}; replicas down {down_for:.1f}s")
    assert not log.failed, log.failed
    assert route_of(browsing) == "default"
    # A replica found stopped costs a refused connection, far less than its connect timeout.
    assert log.slowest.seconds < settings.REPLICA_CONNECT_TIMEOUT + MARGIN, log.summary()
    poll(lambda: route_of(Client().get(shop["category"])) in settings.REPLICA_ALIASES, what="replica back")


@needs_replicas
def test_the_checkout_flow_reads_its_own_writes_while_every_replica_lags(shop, paused_replay):
    log = RequestLog("every replica lagging (replay paused)")

    order_pk = checkout_flow(log, shop)
    browsing = log.timed("visitor category", lambda: Client().get(shop["category"]))

    print(f"\n{log.summary()}")
    assert not log.failed, log.failed
    assert Order.objects.filter(pk=order_pk).exists()
    # A visitor who wrote nothing still reads from a replica, which has not replayed the order.
    assert route_of(browsing) in settings.REPLICA_ALIASES
    assert log.slowest.seconds < MARGIN, log.summary()


# --- Primary stopped ------------------------------------------------------------------------


def outage_page(response) -> bool:
    """Return True for the friendly 503 page, with its Retry-After."""
    return (
        response.status_code == 503
        and response["Retry-After"] == str(settings.OUTAGE_RETRY_AFTER_SECONDS)
        and response["Content-Type"].startswith("text/html")
        and "back in a moment" in response.content.decode()
        and response["X-Frame-Options"] == settings.X_FRAME_OPTIONS
        and response["X-Content-Type-Options"] == "nosniff"  # the security middleware saw it too
    )


@needs_replicas
@local_stack_only
def test_with_the_primary_stopped_writes_answer_503_reads_stay_on_the_replicas_and_all_recovers(shop):
    # Clients that get the 503 page rather than the exception: Django handles it as a 500 would be.
    anonymous = Client(raise_request_exception=False)
    customer = logged_in("ada", raise_request_exception=False)
    staff = logged_in("boss", raise_request_exception=False)
    assert add_to_cart(customer, shop["product"], 1).status_code == 303
    newcomer = Client(raise_request_exception=False)
    wait_for_replay()  # every write so far is on the replicas: the customer may read from them
    cache.clear()  # every read below reaches a database: sessions and catalog alike
    log = RequestLog("primary stopped")
    responses = {}

    assert_restartable()
    stopped = time.monotonic()
    localstack.stop_server("primary")
    try:
        for label, url in [
            ("home", shop["home"]),
            ("category", shop["category"]),
            ("product", shop["product_page"]),
        ]:
            responses[label] = log.timed(label, lambda url=url: anonymous.get(url))
        responses["orders"] = log.timed("orders", lambda: customer.get(reverse("accounts:orders")))
        responses["healthz"] = log.timed(
            "healthz", lambda: anonymous.get(reverse("healthz"), headers=HEALTHZ_TOKEN), expect=(503,)
        )
        for label, call in [
            ("cart add", lambda: add_to_cart(customer, shop["other"], 1)),
            ("place order", lambda: customer.post(reverse("accounts:checkout"))),
            (
                "login",
                lambda: newcomer.post(reverse("accounts:login"), {"username": "grace", "password": PASSWORD}),
            ),
            ("dashboard", lambda: staff.get(DASHBOARD)),
        ]:
            responses[label] = log.timed(label, call, expect=(503,))
    finally:
        localstack.start_server("primary")  # and waits until it accepts connections
        down_for = time.monotonic() - stopped
        connections["default"].close()
        poll(
            lambda: streaming_replicas() >= len(settings.REPLICA_ALIASES),
            timeout=60,
            what="replicas streaming",
        )
        wait_for_replay(timeout=30)
        streaming_again = time.monotonic() - stopped
    after = RequestLog("primary restarted")
    poll(lambda: anonymous.get(reverse("healthz")).status_code == 200, timeout=30, what="healthz 200")
    after.timed("cart add", lambda: add_to_cart(customer, shop["other"], 1), expect=(303,))
    after.timed("place order", lambda: place_order(customer), expect=(303,))
    after.timed(
        "login",
        lambda: newcomer.post(reverse("accounts:login"), {"username": "grace", "password": PASSWORD}),
        expect=(302,),
    )
    after.timed("dashboard", lambda: staff.get(DASHBOARD))

    print(f"\n{log.summary()}; primary down {down_for:.1f}s, replicas streaming after {streaming_again:.1f}s")
    assert not log.failed, log.failed
    # Catalog pages are a feature of the replicas: they keep serving while the primary is down.
    assert {route_of(responses[label]) for label in ("home", "category", "product", "orders")} <= set(
        settings.REPLICA_ALIASES
    )
    health = responses["healthz"].json()
    assert health["primary"]["up"] is False
    assert all(replica["up"] for replica in health["replicas"].values())
    for label in ("cart add", "place order", "login", "dashboard"):
        assert outage_page(responses[label]), (label, responses[label].status_code)
    # A stopped primary refuses at once (a silent one costs its connect timeout, below); behind
    # PgBouncer a client already connected first waits out the pool, as for a busy server.
    assert log.slowest.seconds < primary_wait() + MARGIN, log.summary()
    assert not after.failed, after.failed
    assert Order.objects.filter(customer__user__username="ada").count() == 1  # the order after, only


def test_a_silent_primary_costs_at_most_its_connect_timeout_then_503(shop, monkeypatch):
    customer = logged_in("ada", raise_request_exception=False)
    log = RequestLog("primary silent")
    with silent_listener() as port:
        connections["default"].close()
        monkeypatch.setitem(connections["default"].settings_dict, "PORT", port)
        try:
            cart_add = log.timed("cart add", lambda: add_to_cart(customer, shop["product"], 1), expect=(503,))
            health = log.timed(
                "healthz", lambda: Client().get(reverse("healthz"), headers=HEALTHZ_TOKEN), expect=(503,)
            )
        finally:
            connections["default"].close()
            monkeypatch.undo()

    print(f"\n{log.summary()}")
    assert not log.failed, log.failed
    assert outage_page(cart_add)
    assert health.json()["primary"]["up"] is False
    timeout = connections["default"].settings_dict["OPTIONS"]["connect_timeout"]
    assert log.slowest.seconds < timeout + MARGIN, log.summary()


def test_only_a_database_that_cannot_be_reached_is_an_outage():
    # SET LOCAL: a plain SET would stay on the pooled server connection, for its next client.
    with transaction.atomic(), connections["default"].cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = '10ms'")
        with pytest.raises(OperationalError) as cancelled:
            cursor.execute("SELECT pg_sleep(1)")
    refused = DatabaseWrapper(connections["default"].settings_dict | {"PORT": closed_port()}, alias="refused")
    with pytest.raises(OperationalError) as unreachable:
        refused.ensure_connection()

    assert not is_database_unreachable(cancelled.value)  # a statement that failed: a 500, a bug to fix
    assert is_database_unreachable(unreachable.value)


# --- Reports refreshed under load -----------------------------------------------------------

REPORT_VIEW_LOCKS = """
    SELECT DISTINCT l.mode
    FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
    WHERE l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND c.relkind = 'm' AND c.relname LIKE 'reports\\_%'
"""


@pytest.fixture
def populated_reports():
    """Sales, refreshed once (plainly, as the first refresh must be); the views are emptied again
    afterwards, as the flush at the end of a transactional test empties only the tables."""
    make_sales(60)
    reports_refresh()
    yield
    empty_report_views()


def test_a_concurrent_refresh_under_load_blocks_no_reader_and_takes_no_access_exclusive_lock(
    shop, populated_reports
):
    make_sales(30)  # something new for the refresh to apply
    staff, visitors = logged_in("boss"), [Client(), Client()]
    log = RequestLog("reports refresh under load")
    refreshed, readers_ran, done = threading.Event(), threading.Barrier(4), threading.Event()
    errors: list[BaseException] = []

    def refresh() -> None:
        try:
            # Keep the transaction, and so every lock the refresh took, until each reader has
            # loaded a page meanwhile: readers must get through, and the watcher must see them.
            with transaction.atomic():
                call_command("refresh_reports", verbosity=0)
                refreshed.set()
                readers_ran.wait(timeout=30)
        except BaseException as error:
            errors.append(error)
        finally:
            done.set()
            connections.close_all()

    def read(client: Client, urls: list[str]) -> None:
        try:
            waited = False
            for n in range(1000):  # a bound, should the refresh never end
                if done.is_set() and n >= len(urls):
                    break
                started_after_refresh = refreshed.is_set()
                url = urls[n % len(urls)]
                log.timed(url, lambda url=url: client.get(url))
                if started_after_refresh and not waited:
                    readers_ran.wait(timeout=30)  # this page was read while the locks were held
                    waited = True
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    # Each dashboard load asks for another range and minimum, so it reads the views, not Redis.
    today = timezone.localdate()
    dashboard_urls = [
        f"{DASHBOARD}?date_from={today - timedelta(days=days)}&date_to={today}&orders_over={days % 3}"
        for days in range(7, 60)
    ]
    catalog_urls = [shop["home"], shop["category"], shop["product_page"]]
    threads = [  # the readers first, so that they are reading when the refresh starts
        threading.Thread(target=read, args=(staff, dashboard_urls), name="dashboard"),
        threading.Thread(target=read, args=(visitors[0], catalog_urls), name="catalog-1"),
        threading.Thread(target=read, args=(visitors[1], catalog_urls), name="catalog-2"),
        threading.Thread(target=refresh, name="refresh"),
    ]
    watcher = other_session()
    seen: set[str] = set()
    polls = 0
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while not done.is_set() and time.monotonic() < deadline:
            with watcher.cursor() as cursor:
                cursor.execute(REPORT_VIEW_LOCKS)
                seen |= {mode for (mode,) in cursor.fetchall()}
            polls += 1
            time.sleep(0.005)  # a poll interval; the loop ends with the refresh or the deadline
        for thread in threads:
            thread.join(timeout=max(deadline - time.monotonic(), 1))
    finally:
        watcher.close()

    print(f"\n{log.summary()}; {polls} polls of pg_locks saw {sorted(seen)}")
    assert not [thread.name for thread in threads if thread.is_alive()]
    assert not errors, errors
    assert not log.failed, log.failed
    assert polls > 0
    assert "ExclusiveLock" in seen  # the concurrent refresh's lock, held while the readers read
    assert "AccessExclusiveLock" not in seen
    assert RefreshLog.objects.filter(concurrently=True).count() == len(VIEW_DEPENDENCIES)
