"""A cold dashboard reads its blocks all at once over the async pools (DASHBOARD_CONCURRENT_READS),
from a replica that has replayed the refresh: the same blocks as read one by one, in one round of
queries, and from the primary when no replica is healthy or caught up."""

from __future__ import annotations

import re

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

from reports.forms import default_filters
from reports.selectors import DASHBOARD_BLOCK_VIEWS, dashboard_data
from reports.services import reports_refresh
from shopsite.caching.versioned import namespace_bump
from shopsite.db import async_pool
from shopsite.db.replicas import pool
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
def _concurrent(settings):
    settings.DASHBOARD_CONCURRENT_READS = True
    settings.SERVER_TIMING = True
    pool.reset()
    yield
    pool.reset()


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
    assert at_once == one_by_one
    assert at_once.kpis[-1].orders == 12  # the last 30 days
    assert sum(day.orders for day in at_once.sales) == 12
    assert len(at_once.top_products) == 2


def test_a_cold_dashboard_reads_every_block_on_a_replica_in_one_round(
    shop, settings, django_assert_num_queries
):
    admin = UserFactory(username="boss", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    # Django's connections: the user, the views' freshness, the primary's WAL position. The six
    # block queries go over the async pools, counted in Server-Timing under their replica.
    with django_assert_num_queries(3):
        response = client.get(URL)
    assert response.status_code == 200
    timing = response["Server-Timing"]
    on_replicas = sum(
        int(count) for alias, count in re.findall(r'db-(replica\w*);dur=[\d.]+;desc="(\d+) quer', timing)
    )
    assert on_replicas == 6, timing
    assert response.context["data"].kpis[-1].orders == 12


def test_with_no_healthy_replica_the_blocks_are_read_at_once_on_the_primary(shop, settings, monkeypatch):
    for alias in settings.REPLICA_ALIASES:
        pool.take_out(alias, "taken out by the test")
    seen = []
    real = async_pool.connection

    def recorded(alias):
        seen.append(alias)
        return real(alias)

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
    assert all(getattr(data, name) is not None for name in DASHBOARD_BLOCK_VIEWS)
    assert "read one by one" in caplog.text
