"""The router against the stack's real streaming replicas: reads on them, read-your-writes while
they lag, faults, and several replicas."""

import socket
import threading
import time
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import OperationalError, connections
from django.test import Client
from django.urls import reverse

from accounts.models import Order
from shopsite import devstack
from shopsite.replicas import pool
from tests.factories import CategoryFactory, CustomerFactory, ProductFactory, UserFactory

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not settings.REPLICA_ALIASES, reason="no replica configured"),
    pytest.mark.django_db(transaction=True, databases="__all__"),
]

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _fresh_pool(settings):
    """Start each test with every replica presumed healthy, checked often, back soon after a fault."""
    settings.REPLICA_CHECK_INTERVAL = 0.2
    settings.REPLICA_BACKOFF_SECONDS = 0.5
    pool.reset()
    yield
    pool.reset()


@pytest.fixture
def shop():
    shirts = CategoryFactory(slug="shirts", facets=["color"])
    product = ProductFactory(category=shirts, stock=5, price=Decimal("20.00"), details={"color": "red"})
    user = UserFactory(username="ada")
    CustomerFactory(user=user, email="ada@example.com")
    _wait_for_replicas()
    return {"category_url": reverse("catalog:category", args=["shirts"]), "product": product, "user": user}


def _wait_for_replicas(timeout: float = 10) -> None:
    """Wait until every replica has replayed everything the primary has written so far."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()")
        (target,) = cursor.fetchone()
    deadline = time.monotonic() + timeout
    for alias in settings.REPLICA_ALIASES:
        while not _answers(alias, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]):
            assert time.monotonic() < deadline, f"{alias} did not catch up within {timeout}s"
            time.sleep(0.01)


def _answers(alias: str, sql: str, params=()) -> bool:
    """Return the query's boolean answer, or False while the server is still starting."""
    try:
        return bool(_scalar(alias, sql, params))
    except OperationalError:
        connections[alias].close()
        return False


def _scalar(alias: str, sql: str, params=()):
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def _route(response) -> str:
    """Return the alias that served the request's reads, from its Server-Timing header."""
    for entry in response["Server-Timing"].split(","):
        name, _, desc = entry.strip().partition(";desc=")
        if name == "db-route":
            return desc.strip('"')
    raise AssertionError(f"no db-route in {response['Server-Timing']!r}")


@pytest.fixture
def paused_replay():
    """Pause WAL replay on every replica: they keep receiving the primary's writes, apply none."""
    for alias in settings.REPLICA_ALIASES:
        _scalar(alias, "SELECT pg_wal_replay_pause()")
    yield
    for alias in settings.REPLICA_ALIASES:
        _scalar(alias, "SELECT pg_wal_replay_resume()")


def _stop(names: list[str]):
    for name in names:
        devstack.stop_server(name)


def _start(names: list[str]):
    for name in names:
        devstack.start_server(name)
    for alias in settings.REPLICA_ALIASES:
        connections[alias].close()
    _wait_for_replicas(timeout=30)  # a restarted standby first replays to a consistent state


def _poll(check, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


# --- Reads on the replica -------------------------------------------------------------------


def test_a_catalog_page_reads_from_a_replica_in_recovery(client, shop):
    response = client.get(shop["category_url"])

    assert response.status_code == 200
    alias = _route(response)
    assert alias in settings.REPLICA_ALIASES
    assert _scalar(alias, "SELECT pg_is_in_recovery()") is True
    assert shop["product"].name in response.content.decode()


def test_admin_reads_from_the_primary(client, shop):
    staff = UserFactory(username="staff", is_staff=True, is_superuser=True)
    client.force_login(staff)

    response = client.get(reverse("admin:catalog_product_changelist"))

    assert response.status_code == 200
    assert _route(response) == "default"


# --- Read-your-writes while the replicas lag ------------------------------------------------


def test_a_customer_sees_their_order_at_once_while_the_replicas_have_not_replayed_it(shop, paused_replay):
    customer, stranger = Client(), Client()
    customer.post(reverse("accounts:login"), {"username": "ada", "password": PASSWORD})
    customer.post(reverse("accounts:cart_add"), {"product_id": shop["product"].pk, "quantity": 2})

    placed = customer.post(reverse("accounts:checkout"))
    order = Order.objects.get()

    assert placed.status_code in (302, 303)
    order_page = customer.get(placed["Location"])
    history = customer.get(reverse("accounts:orders"))
    assert order_page.status_code == 200
    assert f"#{order.pk}" in order_page.content.decode()
    assert f"#{order.pk}" in history.content.decode()
    assert _route(order_page) == _route(history) == "default"
    # A client that wrote nothing still reads from a replica, which has not replayed the order.
    browsing = stranger.get(shop["category_url"])
    assert _route(browsing) in settings.REPLICA_ALIASES
    assert "Only 3 left" not in browsing.content.decode()


def test_once_the_replicas_replay_the_write_the_customer_reads_from_them_again(shop):
    customer = Client()
    customer.post(reverse("accounts:login"), {"username": "ada", "password": PASSWORD})
    assert settings.READ_YOUR_WRITES_COOKIE in customer.cookies  # logging in wrote the session

    _wait_for_replicas()
    response = customer.get(shop["category_url"])

    assert _route(response) in settings.REPLICA_ALIASES
    assert customer.cookies[settings.READ_YOUR_WRITES_COOKIE].value == ""  # dropped: caught up


# --- Faults ---------------------------------------------------------------------------------


def test_pages_stay_up_on_the_primary_while_every_replica_is_stopped(client, shop):
    names = list(settings.REPLICA_ALIASES)
    _stop(names)
    try:
        responses = [client.get(shop["category_url"]) for _ in range(5)]
    finally:
        _start(names)

    assert [response.status_code for response in responses] == [200] * 5
    assert {_route(response) for response in responses} == {"default"}
    # Back on a replica once it answers again and its back-off has passed.
    _poll(lambda: _route(client.get(shop["category_url"])) in settings.REPLICA_ALIASES)


def test_a_replica_failing_under_a_read_only_request_is_retried_on_the_primary(client, shop, monkeypatch):
    for alias in settings.REPLICA_ALIASES:  # healthy at the last check, refused from now on
        connections[alias].close()
        monkeypatch.setitem(connections[alias].settings_dict, "PORT", _closed_port())
    monkeypatch.setattr(pool, "_status", lambda alias, may_check: "healthy")

    response = client.get(shop["category_url"])

    assert response.status_code == 200
    assert _route(response) == "default"
    assert shop["product"].name in response.content.decode()


def test_a_silent_replica_costs_one_connect_timeout_then_is_skipped(client, shop, monkeypatch):
    with _silent_listener() as port:
        for alias in settings.REPLICA_ALIASES:
            connections[alias].close()
            monkeypatch.setitem(connections[alias].settings_dict, "PORT", port)
        settings.REPLICA_BACKOFF_SECONDS = 60
        timeout = settings.REPLICA_CONNECT_TIMEOUT

        started = time.monotonic()
        first = client.get(shop["category_url"])
        first_took = time.monotonic() - started
        started = time.monotonic()
        later = [client.get(shop["category_url"]) for _ in range(len(settings.REPLICA_ALIASES) + 2)]
        later_took = time.monotonic() - started

    assert first.status_code == 200
    assert first_took < timeout + 1.5
    assert [response.status_code for response in later] == [200] * len(later)
    # At most one more connect timeout per other silent replica, then none: all are taken out.
    assert later_took < (len(settings.REPLICA_ALIASES) - 1) * (timeout + 0.5) + 1.5
    assert {_route(response) for response in later[-2:]} == {"default"}


# --- Several replicas -------------------------------------------------------------------------


@pytest.mark.skipif(len(settings.REPLICA_ALIASES) < 2, reason="needs two replicas (make test starts two)")
def test_reads_spread_over_every_replica_and_survive_losing_one(shop):
    served = {_route(Client().get(shop["category_url"])) for _ in range(40)}
    assert served == set(settings.REPLICA_ALIASES)

    lost = settings.REPLICA_ALIASES[-1]
    _stop([lost])
    try:
        responses = [Client().get(shop["category_url"]) for _ in range(40)]
    finally:
        _start([lost])

    assert {response.status_code for response in responses} == {200}
    routes = [_route(response) for response in responses]
    # The one request that finds the lost replica gone is retried on the primary; it is then out
    # of rotation, and every other read goes to the replicas left.
    assert routes.count("default") <= 1
    assert {route for route in routes if route != "default"} == set(settings.REPLICA_ALIASES) - {lost}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _silent_listener:
    """A TCP listener that accepts connections and never answers: a hung server."""

    def __enter__(self) -> int:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.accepted = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        return self.sock.getsockname()[1]

    def _accept(self):
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                self.accepted.append(self.sock.accept()[0])
            except OSError:
                continue

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        for conn in self.accepted:
            conn.close()
        self.sock.close()
