"""A cold dashboard reads its blocks all at once over the async pools (DASHBOARD_CONCURRENT_READS)
where they are open (under ASGI), from a replica that has replayed the refresh: the same blocks as
read one by one, in one round of queries, and from the primary when no replica is healthy."""

from __future__ import annotations

import re
import urllib.request

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

from reports.forms import default_filters
from reports.selectors import DASHBOARD_BLOCKS, dashboard_data
from reports.services import reports_refresh
from shopsite.caching.versioned import namespace_bump
from shopsite.db import async_pool, concurrent_reads
from shopsite.db.replicas import pool
from tests.e2e.asgi_server import AsgiLiveServer
from tests.factories import UserFactory
from tests.integration.faults import wait_for_replay
from tests.reports.helpers import make_sales

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not django_settings.REPLICA_ALIASES, reason="no replica configured"),
    pytest.mark.django_db(transaction=True, databases="__all__"),
]

URL = "/admin/reports/dashboard/"


@pytest.fixture(autouse=True)
def _concurrent(settings, monkeypatch):
    settings.DASHBOARD_CONCURRENT_READS = True
    settings.SERVER_TIMING = True
    # As under ASGI (here the reads open connections of their own: this thread has no server loop).
    monkeypatch.setattr(async_pool, "pools_open", lambda: True)
    pool.reset()
    yield
    pool.reset()


@pytest.fixture(scope="module")
def asgi_site(django_db_setup):
    server = AsgiLiveServer()
    yield server
    server.stop()


@pytest.fixture
def shop():
    make_sales(12)
    reports_refresh()
    wait_for_replay()


def read(*, concurrent: bool, settings) -> object:
    settings.DASHBOARD_CONCURRENT_READS = concurrent
    namespace_bump("dashboard")  # cold: every block rebuilt
    today = timezone.localdate()
    return dashboard_data(filters=default_filters(today=today), today=today)


def test_the_blocks_read_at_once_are_the_blocks_read_one_by_one(shop, settings):
    at_once = read(concurrent=True, settings=settings)
    one_by_one = read(concurrent=False, settings=settings)
    assert [getattr(at_once, name) for name in DASHBOARD_BLOCKS] == [
        getattr(one_by_one, name) for name in DASHBOARD_BLOCKS
    ]
    assert at_once.kpis[-1].orders == 12  # the last 30 days
    assert sum(day.orders for day in at_once.sales) == 12
    assert len(at_once.top_products) == 2


def test_under_asgi_a_cold_dashboard_reads_every_block_on_a_replica_in_one_round(
    shop, asgi_site, monkeypatch
):
    monkeypatch.undo()  # the real pools_open(): the server's loop has its pools open
    admin = UserFactory(username="boss", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    wait_for_replay()  # the login's writes too: a replica behind them would have the blocks read again
    session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    request = urllib.request.Request(asgi_site.url + URL, headers={"Cookie": f"sessionid={session}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        timing = response.headers["Server-Timing"]
    counts = dict(re.findall(r'db-(\w+);dur=[\d.]+;desc="(\d+) quer', timing))
    # Django's connection: the user, the state of the layers and the primary's WAL position (the
    # session comes from Redis); the six block queries at once over the pools, on a replica.
    assert int(counts.pop("default")) == 3, timing
    assert sum(int(count) for count in counts.values()) == 6, timing
    assert set(counts) <= set(django_settings.REPLICA_ALIASES)


def test_with_no_healthy_replica_the_blocks_are_read_at_once_on_the_primary(shop, settings, monkeypatch):
    for alias in settings.REPLICA_ALIASES:
        pool.take_out(alias, "taken out by the test")
    seen = []
    real = async_pool.connection

    def recorded(alias, **kwargs):
        seen.append(alias)
        return real(alias, **kwargs)

    monkeypatch.setattr(async_pool, "connection", recorded)
    data = read(concurrent=True, settings=settings)
    assert set(seen) == {"default"}
    assert len(seen) == 6
    assert data.kpis[-1].orders == 12


def test_a_failed_concurrent_read_falls_back_to_reading_each_block(shop, settings, monkeypatch, caplog):
    def failing(*args, **kwargs):
        raise ConnectionRefusedError("no pool today (the test)")

    monkeypatch.setattr("reports.selectors.read_at_once", failing)
    data = read(concurrent=True, settings=settings)
    assert data.kpis[-1].orders == 12
    assert all(getattr(data, name) is not None for name in DASHBOARD_BLOCKS)
    assert "read one by one" in caplog.text


def test_a_replica_behind_the_refresh_has_every_block_read_again_on_the_primary(shop, settings, monkeypatch):
    seen = []
    real = async_pool.connection

    def recorded(alias, **kwargs):
        seen.append(alias)
        return real(alias, **kwargs)

    async def behind(alias):
        return 0  # has replayed nothing the primary wrote: the reads must not be trusted

    monkeypatch.setattr(async_pool, "connection", recorded)
    monkeypatch.setattr(concurrent_reads, "_replayed", behind)
    data = read(concurrent=True, settings=settings)
    assert seen.count("default") == 6  # every block again, on the primary
    # The reads first tried on the replica (and its health check, when one is due).
    assert len([alias for alias in seen if alias != "default"]) in (6, 7)
    assert data.kpis[-1].orders == 12
