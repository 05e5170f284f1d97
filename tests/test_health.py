import copy
import socket

import pytest
from django.conf import settings
from django.db import connections

pytestmark = pytest.mark.django_db(databases=["default", *settings.REPLICA_ALIASES])


def _closed_port() -> int:
    """Return a loopback port that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_healthz_reports_primary_replicas_and_redis_up(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    report = response.json()
    assert report["primary"]["up"] is True
    assert report["primary"]["in_recovery"] is False
    assert report["redis"] == {"up": True}
    assert set(report["replicas"]) == set(settings.REPLICA_ALIASES)
    for state in report["replicas"].values():
        assert state["up"] is True
        assert state["in_recovery"] is True  # the real replica, not the primary
        assert state["lag_bytes"] >= 0


@pytest.mark.skipif(not settings.REPLICA_ALIASES, reason="no replica configured")
def test_healthz_reports_a_down_replica_without_failing(client, monkeypatch):
    replica = connections["replica"]
    replica.close()
    monkeypatch.setitem(replica.settings_dict, "PORT", _closed_port())

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["replicas"]["replica"]["up"] is False
    assert response.json()["primary"]["up"] is True


def test_healthz_is_503_when_the_primary_is_down(client):
    primary = connections["default"]
    dead = copy.deepcopy(primary.settings_dict) | {"PORT": _closed_port()}
    connections["default"] = type(primary)(dead, "default")
    try:
        response = client.get("/healthz")
    finally:
        connections["default"] = primary

    assert response.status_code == 503
    assert response.json()["primary"]["up"] is False


def test_healthz_reports_redis_down_without_failing(client, settings):
    cache = settings.CACHES["default"]
    settings.CACHES = {"default": cache | {"LOCATION": f"redis://127.0.0.1:{_closed_port()}/0"}}

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["redis"]["up"] is False
    assert response.json()["primary"]["up"] is True
