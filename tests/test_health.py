"""`/healthz`: up or down for everyone, 503 only when the primary is down; the state of every server
(WAL positions, lag, errors) for staff and for holders of HEALTHZ_TOKEN only."""

import copy
import socket

import pytest
from django.conf import settings
from django.db import connections
from django.test.utils import CaptureQueriesContext

from tests.factories import ProductFactory, UserFactory

pytestmark = pytest.mark.django_db(databases=["default", *settings.REPLICA_ALIASES])

TOKEN = "s3cret-healthz-token"
WITH_TOKEN = {"X-Healthz-Token": TOKEN}


@pytest.fixture(autouse=True)
def _token(settings):
    settings.HEALTHZ_TOKEN = TOKEN


def _closed_port() -> int:
    """Return a loopback port that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_public_sees_up_and_nothing_else(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "up"}
    assert "no-store" in response["Cache-Control"]


def test_healthz_reports_primary_replicas_and_redis_up_to_the_token(client):
    response = client.get("/healthz", headers=WITH_TOKEN)

    assert response.status_code == 200
    report = response.json()
    assert report["status"] == "up"
    assert report["primary"]["up"] is True
    assert report["primary"]["in_recovery"] is False
    assert report["primary"]["wal_lsn"]
    assert report["redis"] == {"up": True}
    assert set(report["replicas"]) == set(settings.REPLICA_ALIASES)
    for state in report["replicas"].values():
        assert state["up"] is True
        assert state["in_recovery"] is True  # the real replica, not the primary
        assert state["lag_bytes"] >= 0


def test_the_token_may_come_as_a_bearer_token(client):
    response = client.get("/healthz", headers={"Authorization": f"Bearer {TOKEN}"})

    assert "primary" in response.json()


def test_a_logged_in_staff_member_sees_the_servers(client):
    client.force_login(UserFactory(is_staff=True))

    response = client.get("/healthz")

    assert response.json()["primary"]["up"] is True


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Healthz-Token": "wrong"},
        {"X-Healthz-Token": TOKEN[:-1]},
        {"X-Healthz-Token": TOKEN + "x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer"},
        {"X-Healthz-Token": ""},
        {"X-Healthz-Token": "jeton-été-ünïcode"},  # not ASCII: compared as bytes, no 500
    ],
)
def test_a_wrong_token_gets_the_public_answer(client, headers):
    response = client.get("/healthz", headers=headers)

    assert response.status_code == 200
    assert response.json() == {"status": "up"}


def test_a_customer_gets_the_public_answer(client):
    client.force_login(UserFactory())

    assert client.get("/healthz").json() == {"status": "up"}


def test_without_a_configured_token_no_token_opens_the_details(client, settings):
    settings.HEALTHZ_TOKEN = ""

    for headers in ({"X-Healthz-Token": ""}, {"Authorization": "Bearer "}, {}):
        assert client.get("/healthz", headers=headers).json() == {"status": "up"}


@pytest.mark.skipif(not settings.REPLICA_ALIASES, reason="no replica configured")
def test_healthz_reports_a_down_replica_without_failing(client, monkeypatch):
    replica = connections["replica"]
    replica.close()
    monkeypatch.setitem(replica.settings_dict, "PORT", _closed_port())

    public = client.get("/healthz")
    response = client.get("/healthz", headers=WITH_TOKEN)

    assert public.status_code == 200
    assert public.json() == {"status": "up"}
    assert response.status_code == 200
    assert response.json()["replicas"]["replica"]["up"] is False
    assert response.json()["primary"]["up"] is True


def _with_the_primary_down(request):
    primary = connections["default"]
    dead = copy.deepcopy(primary.settings_dict) | {"PORT": _closed_port()}
    connections["default"] = type(primary)(dead, "default")
    try:
        return request()
    finally:
        connections["default"] = primary


def test_healthz_is_503_down_when_the_primary_is_down(client):
    public = _with_the_primary_down(lambda: client.get("/healthz"))
    detailed = _with_the_primary_down(lambda: client.get("/healthz", headers=WITH_TOKEN))

    assert public.status_code == 503
    assert public.json() == {"status": "down"}
    assert detailed.status_code == 503
    assert detailed.json()["status"] == "down"
    assert detailed.json()["primary"]["up"] is False
    assert detailed.json()["primary"]["error"]


def test_staff_with_the_primary_down_get_an_answer_not_a_500(client):
    client.force_login(UserFactory(is_staff=True))

    response = _with_the_primary_down(lambda: client.get("/healthz"))

    assert response.status_code == 503
    assert response.json()["status"] == "down"


def test_healthz_reports_redis_down_without_failing(client, settings):
    cache = settings.CACHES["default"]
    settings.CACHES = {"default": cache | {"LOCATION": f"redis://127.0.0.1:{_closed_port()}/0"}}

    public = client.get("/healthz")
    response = client.get("/healthz", headers=WITH_TOKEN)

    assert public.json() == {"status": "up"}
    assert response.status_code == 200
    assert response.json()["redis"]["up"] is False
    assert response.json()["primary"]["up"] is True


def _queries_by_alias(request) -> dict[str, int]:
    contexts = {alias: CaptureQueriesContext(connections[alias]) for alias in settings.DATABASES}
    for context in contexts.values():
        context.__enter__()
    try:
        request()
    finally:
        for context in contexts.values():
            context.__exit__(None, None, None)
    return {alias: len(context) for alias, context in contexts.items()}


@pytest.mark.parametrize("products", [1, 30])
def test_the_public_answer_asks_the_primary_only_once(client, products):
    ProductFactory.create_batch(products)

    public = _queries_by_alias(lambda: client.get("/healthz"))
    detailed = _queries_by_alias(lambda: client.get("/healthz", headers=WITH_TOKEN))

    # Public: the primary's state, nothing of the replicas (a probe anyone may send, so cheap).
    assert public == {"default": 1} | dict.fromkeys(settings.REPLICA_ALIASES, 0)
    # With the token: the primary's state, then one query per replica.
    assert detailed == {"default": 1} | dict.fromkeys(settings.REPLICA_ALIASES, 1)
