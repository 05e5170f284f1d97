"""The router against the stack's real streaming replicas: reads on them, read-your-writes while
they lag, faults, and several replicas."""

import time
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client
from django.urls import reverse

from accounts.models import Order
from shopsite.db.replicas import pool
from tests.accounts.helpers import place_order
from tests.factories import AddressFactory, CategoryFactory, CustomerFactory, ProductFactory, UserFactory
from tests.integration.faults import (
    closed_port,
    poll,
    route_of,
    scalar,
    silent_listener,
    start_servers,
    stop_servers,
    wait_for_replay,
)

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
def shop(delivery_options):
    shirts = CategoryFactory(slug="shirts", facets=["color"])
    product = ProductFactory(category=shirts, stock=5, price=Decimal("20.00"), details={"color": "red"})
    user = UserFactory(username="ada")
    AddressFactory(customer=CustomerFactory(user=user, email="ada@example.com"))
    wait_for_replay()
    return {"category_url": reverse("catalog:category", args=["shirts"]), "product": product, "user": user}


# --- Reads on the replica -------------------------------------------------------------------


def test_a_catalog_page_reads_from_a_replica_in_recovery(client, shop):
    response = client.get(shop["category_url"])

    assert response.status_code == 200
    alias = route_of(response)
    assert alias in settings.REPLICA_ALIASES
    assert scalar(alias, "SELECT pg_is_in_recovery()") is True
    assert shop["product"].name in response.content.decode()


def test_admin_reads_from_the_primary(client, shop):
    staff = UserFactory(username="staff", is_staff=True, is_superuser=True)
    client.force_login(staff)

    response = client.get(reverse("admin:catalog_product_changelist"))

    assert response.status_code == 200
    assert route_of(response) == "default"


# --- Read-your-writes while the replicas lag ------------------------------------------------


def test_a_customer_sees_their_order_at_once_while_the_replicas_have_not_replayed_it(shop, paused_replay):
    customer, stranger = Client(), Client()
    customer.post(reverse("accounts:login"), {"username": "ada", "password": PASSWORD})
    customer.post(reverse("accounts:cart_add"), {"product_id": shop["product"].pk, "quantity": 2})

    placed = place_order(customer)
    order = Order.objects.get()

    assert placed.status_code in (302, 303)
    order_page = customer.get(placed["Location"])
    history = customer.get(reverse("accounts:orders"))
    assert order_page.status_code == 200
    assert f"#{order.pk}" in order_page.content.decode()
    assert f"#{order.pk}" in history.content.decode()
    assert route_of(order_page) == route_of(history) == "default"
    # A client that wrote nothing still reads from a replica, which has not replayed the order.
    browsing = stranger.get(shop["category_url"])
    assert route_of(browsing) in settings.REPLICA_ALIASES
    assert "Only 3 left" not in browsing.content.decode()


def test_once_the_replicas_replay_the_write_the_customer_reads_from_them_again(shop):
    customer = Client()
    customer.post(reverse("accounts:login"), {"username": "ada", "password": PASSWORD})
    assert settings.READ_YOUR_WRITES_COOKIE in customer.cookies  # logging in wrote the session

    wait_for_replay()
    response = customer.get(shop["category_url"])

    assert route_of(response) in settings.REPLICA_ALIASES
    assert customer.cookies[settings.READ_YOUR_WRITES_COOKIE].value == ""  # dropped: caught up


# --- Faults ---------------------------------------------------------------------------------


def test_pages_stay_up_on_the_primary_while_every_replica_is_stopped(client, shop):
    names = list(settings.REPLICA_ALIASES)
    stop_servers(names)
    try:
        responses = [client.get(shop["category_url"]) for _ in range(5)]
    finally:
        start_servers(names)

    assert [response.status_code for response in responses] == [200] * 5
    assert {route_of(response) for response in responses} == {"default"}
    # Back on a replica once it answers again and its back-off has passed.
    poll(lambda: route_of(client.get(shop["category_url"])) in settings.REPLICA_ALIASES)


def test_a_replica_failing_under_a_read_only_request_is_retried_on_the_primary(client, shop, monkeypatch):
    for alias in settings.REPLICA_ALIASES:  # healthy at the last check, refused from now on
        connections[alias].close()
        monkeypatch.setitem(connections[alias].settings_dict, "PORT", closed_port())
    monkeypatch.setattr(pool, "_status", lambda alias, may_check: "healthy")

    response = client.get(shop["category_url"])

    assert response.status_code == 200
    assert route_of(response) == "default"
    assert shop["product"].name in response.content.decode()


def test_a_silent_replica_costs_one_connect_timeout_then_is_skipped(client, shop, monkeypatch):
    with silent_listener() as port:
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
    assert {route_of(response) for response in later[-2:]} == {"default"}


# --- Several replicas -------------------------------------------------------------------------


@pytest.mark.skipif(len(settings.REPLICA_ALIASES) < 2, reason="needs two replicas (make test starts two)")
def test_reads_spread_over_every_replica_and_survive_losing_one(shop):
    served = {route_of(Client().get(shop["category_url"])) for _ in range(40)}
    assert served == set(settings.REPLICA_ALIASES)

    lost = settings.REPLICA_ALIASES[-1]
    stop_servers([lost])
    try:
        responses = [Client().get(shop["category_url"]) for _ in range(40)]
    finally:
        start_servers([lost])

    assert {response.status_code for response in responses} == {200}
    routes = [route_of(response) for response in responses]
    # The lost replica serves nothing. A request that finds it gone (or finds it due a check
    # right after a failed one) reads from the primary; the others go to the replicas left.
    assert lost not in routes
    assert {route for route in routes if route != "default"} == set(settings.REPLICA_ALIASES) - {lost}
    assert routes.count("default") <= len(routes) // 4
