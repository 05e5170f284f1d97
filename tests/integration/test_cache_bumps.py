"""A cache bump that did not happen is never silent, against the stack's real Redis paused or stopped.

A write's bump moves its namespace to a new version once it commits, so pages stop showing the
old data. With Redis paused (SIGSTOP: it keeps its port and answers nothing), paused for writes
(`CLIENT PAUSE ... WRITE`) or stopped, the bump is retried a few times, then a command exits 1
saying which namespace to bump by hand and how, and a web request logs an ERROR. A version that
Redis lost (restarted empty) starts again above every version it had.
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import contextmanager

import pytest
from django.core.management import ManagementUtility
from django.test import Client
from django.urls import reverse
from django_redis import get_redis_connection

from catalog.models import Category, Product
from reports.models import RefreshLog
from reports.selectors import DASHBOARD_NAMESPACE
from reports.services import VIEW_DEPENDENCIES
from shopsite import localstack
from shopsite.caching.redis_client import reset_breakers
from shopsite.caching.versioned import (
    BUMP_ATTEMPTS,
    NamespaceBumpFailed,
    namespace_bump,
    namespace_version,
)
from shopsite.localstack.redis import pause_redis, resume_redis
from tests.factories import CategoryFactory, UserFactory
from tests.reports.helpers import empty_report_views, make_sales

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _closed_breakers():
    reset_breakers()
    yield
    reset_breakers()


@contextmanager
def redis_paused():
    """Freeze the stack's Redis for the block, and let it run again whatever happens."""
    pause_redis()
    try:
        yield
    finally:
        resume_redis()
        reset_breakers()


@contextmanager
def redis_stopped():
    """Stop the stack's Redis for the block; it starts again empty (no persistence)."""
    localstack.stop_redis()
    try:
        yield
    finally:
        localstack.start_redis()
        reset_breakers()


def manage(*argv: str) -> int:
    """Run a command as `manage.py` does and return its exit status."""
    try:
        ManagementUtility(["manage.py", *argv]).execute()
    except SystemExit as exit:
        return exit.code
    return 0


@pytest.fixture
def product_file(tmp_path):
    CategoryFactory(slug="shirts", facets=["color"])
    path = tmp_path / "products.jsonl"
    row = {
        "sku": "SH-1",
        "name": "Linen shirt",
        "category": "shirts",
        "price": "30.00",
        "stock": 4,
        "details": {},
    }
    path.write_text(json.dumps(row) + "\n")
    return path


def test_import_products_with_redis_paused_writes_the_products_and_exits_1_saying_how_to_bump(
    product_file, capsys
):
    before = namespace_version("catalog")

    with redis_paused():
        status = manage("import_products", str(product_file))

    out, err = capsys.readouterr()
    assert status == 1
    assert "Imported products.jsonl: 1 created" in out
    assert "bump of cache namespace 'catalog' failed" in err
    assert "manage.py cache_bump catalog" in err
    assert Product.objects.filter(sku="SH-1").exists()  # the import itself stands

    # (a paused Redis may still run a command that timed out once it runs again: the bump it
    # could not confirm may have happened after all, and one more is harmless)
    assert manage("cache_bump", "catalog") == 0  # the hand bump it named, once Redis answers
    assert namespace_version("catalog") > before


def test_refresh_reports_with_redis_stopped_refreshes_the_views_and_exits_1_saying_how_to_bump(capsys):
    make_sales(2)
    try:
        with redis_stopped():
            status = manage("refresh_reports")
        out, err = capsys.readouterr()
        assert status == 1
        assert "Refreshed the reports in " in out
        assert "bump of cache namespace 'dashboard' failed" in err
        assert "manage.py cache_bump dashboard" in err
        # The first refresh: every view, the closed days, every view again over the recent days.
        assert RefreshLog.objects.count() == 2 * len(VIEW_DEPENDENCIES) + 1
        # Redis came back empty: its first version is a fresh one, no version of before.
        assert manage("cache_bump", "dashboard") == 0
    finally:
        empty_report_views()


def test_an_admin_delete_with_redis_paused_is_done_and_logs_an_error_naming_the_namespace(caplog):
    category = CategoryFactory(slug="retired")
    staff = Client()
    staff.force_login(UserFactory(is_staff=True, is_superuser=True))

    with redis_paused(), caplog.at_level(logging.WARNING, logger="shopsite.cache"):
        response = staff.post(reverse("admin:catalog_category_delete", args=[category.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not Category.objects.filter(pk=category.pk).exists()  # committed: the request answers
    # (django-redis logs each error it ignored at ERROR too, on the same logger)
    errors = [
        record
        for record in caplog.records
        if record.levelno == logging.ERROR and "bump of cache namespace" in record.getMessage()
    ]
    assert len(errors) == 1
    assert "bump of cache namespace 'catalog' failed" in errors[0].getMessage()
    assert "manage.py cache_bump catalog" in errors[0].getMessage()
    attempts = [
        record
        for record in caplog.records
        if "bump of cache namespace 'catalog', attempt" in record.getMessage()
    ]
    assert len(attempts) == BUMP_ATTEMPTS


def test_a_bump_is_retried_until_redis_takes_writes_again(caplog):
    before = namespace_version("catalog")
    redis = get_redis_connection("default")
    # Longer than one attempt's socket timeout (0.25 s), shorter than the attempts together.
    redis.execute_command("CLIENT", "PAUSE", 400, "WRITE")
    started = time.monotonic()
    try:
        after = namespace_bump("catalog")
    finally:
        redis.execute_command("CLIENT", "UNPAUSE")

    assert time.monotonic() - started >= 0.25  # the first attempt waited out the pause, then failed
    assert "bump of cache namespace 'catalog', attempt 1, failed" in caplog.text
    assert after > before
    # (>=: the first attempt's command, sent before it timed out, may run once the pause ends)
    assert namespace_version("catalog") >= after


def test_a_version_lost_with_a_restart_starts_above_every_version_it_had():
    for _ in range(3):
        namespace_bump("catalog")
    highest = namespace_version("catalog")

    with redis_stopped():
        pass

    assert get_redis_connection("default").dbsize() == 0  # restarted empty
    assert namespace_version("catalog") > highest


def test_cache_bump_with_redis_paused_exits_1_naming_the_namespace(capsys):
    with redis_paused():
        status = manage("cache_bump", "dashboard")

    assert status == 1
    assert "bump of cache namespace 'dashboard' failed" in capsys.readouterr().err


def test_a_bump_that_keeps_failing_gives_up_within_its_attempts():
    started = time.monotonic()

    with redis_paused(), pytest.raises(NamespaceBumpFailed, match="cache namespace 'dashboard' failed"):
        namespace_bump(DASHBOARD_NAMESPACE)

    # an attempt waits one socket timeout (0.25 s), with 0.1 then 0.2 s between them; a margin
    # for a loaded machine
    assert time.monotonic() - started < BUMP_ATTEMPTS * 0.25 + 0.3 + 2
