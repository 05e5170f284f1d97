"""Refreshing the reports with real sessions: readers keep reading, one refresher at a time."""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import psycopg2
import pytest
from django.core.management import call_command
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from psycopg2 import errors

from accounts.models import OrderStatus
from accounts.services import orders_transition
from reports.models import RefreshLog
from reports.services import VIEW_DEPENDENCIES, reports_refresh
from tests.reports.helpers import empty_report_views, make_sales, refresh_lock_held

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(__file__).resolve().parents[2]
VIEW = "reports_sales_recent"  # a materialized view the refresh recomputes
LIST = "reports_sales_daily"  # the admin's list, over every layer


@pytest.fixture(autouse=True)
def shop_orders(settings):
    """Five days of sales, refreshed once (plainly): two recent days, two closed, today live; the
    views are emptied again afterwards, as the flush at the end of a transactional test empties
    only the tables."""
    settings.REPORTS_RECENT_DAYS = 2
    orders = make_sales(5)
    reports_refresh()
    yield orders
    empty_report_views()


def session():
    """Return a new autocommit session on the test database: another process, in effect."""
    params = connection.get_connection_params()
    other = psycopg2.connect(**{key: value for key, value in params.items() if key != "cursor_factory"})
    other.autocommit = True
    return other


def locks_held_on(view: str) -> set[str]:
    """Return the lock modes this session holds on the view."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT mode FROM pg_locks WHERE pid = pg_backend_pid() AND relation = %s::regclass", [view]
        )
        return {mode for (mode,) in cursor.fetchall()}


def test_a_concurrent_refresh_takes_no_access_exclusive_lock():
    # A transaction keeps every lock its statements took until it ends: look before it commits.
    with transaction.atomic():
        reports_refresh()
        concurrent = {view: locks_held_on(view) for view in VIEW_DEPENDENCIES}
    with transaction.atomic():
        reports_refresh(concurrently=False)
        plain = locks_held_on(VIEW)

    for locks in concurrent.values():
        assert "ExclusiveLock" in locks  # one refresher at a time, readers welcome
        assert "AccessExclusiveLock" not in locks
    assert "AccessExclusiveLock" in plain  # what would block every reader


def test_a_reader_in_the_middle_of_a_transaction_does_not_stop_a_concurrent_refresh(settings):
    # A bound instead of a hang, should the refresh ever wait for the reader.
    settings.COMMAND_LOCK_TIMEOUT_MS = 10_000
    reader = session()
    reader.autocommit = False
    try:
        with reader.cursor() as cursor:
            # Holds AccessShareLock on every layer until it ends.
            cursor.execute(f"SELECT sum(orders) FROM {LIST}")
            assert cursor.fetchone()[0] == 5
        make_sales(1, today=timezone.localdate() - timedelta(days=1))  # a recent day

        call_command("refresh_reports", verbosity=0)

        assert RefreshLog.objects.filter(view=VIEW, concurrently=True).exists()
        with reader.cursor() as cursor:
            # Still in its transaction, never blocked, and reading the new rows on its next statement.
            assert reader.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_INTRANS
            cursor.execute(f"SELECT sum(orders) FROM {LIST}")
            assert cursor.fetchone()[0] == 6
    finally:
        reader.close()


def test_a_reader_of_the_closed_days_does_not_stop_a_refresh_that_replaces_some(settings, shop_orders):
    settings.COMMAND_LOCK_TIMEOUT_MS = 10_000
    reader = session()
    reader.autocommit = False
    try:
        with reader.cursor() as cursor:
            cursor.execute("SELECT sum(orders) FROM reports_closed_sales_day")
            assert cursor.fetchone()[0] == 2  # the two closed days
        orders_transition(order_ids=[shop_orders[4].pk], to=OrderStatus.CANCELLED)

        call_command("refresh_reports", verbosity=0)

        with reader.cursor() as cursor:
            cursor.execute("SELECT sum(orders) FROM reports_closed_sales_day")
            assert cursor.fetchone()[0] == 1
    finally:
        reader.close()


def test_a_plain_refresh_waits_for_readers(settings):
    settings.COMMAND_LOCK_TIMEOUT_MS = 200  # the refresh's own limit, for its transaction
    reader = session()
    reader.autocommit = False
    try:
        with reader.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {VIEW}")

        with pytest.raises(OperationalError) as error:
            call_command("refresh_reports", "--no-concurrently", verbosity=0)

        assert isinstance(error.value.__cause__, errors.LockNotAvailable)
    finally:
        reader.close()


def test_refresh_reports_exits_75_at_once_while_another_refresh_runs():
    with refresh_lock_held():
        settings = connection.settings_dict
        url = (
            f"postgres://{settings['USER']}:{settings['PASSWORD']}@{settings['HOST']}:{settings['PORT']}"
            f"/{settings['NAME']}"
        )
        env = os.environ | {
            "DJANGO_SETTINGS_MODULE": "shopsite.settings.test",
            "DATABASE_URL": url,
            "REPLICA_DATABASE_URLS": "",
        }
        started = time.monotonic()
        run = subprocess.run(
            [sys.executable, "manage.py", "refresh_reports"],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        elapsed = time.monotonic() - started

    assert run.returncode == 75, run.stderr
    assert "another refresh is running" in run.stderr
    assert run.stdout == ""
    assert elapsed < 15  # Django's start-up; the lock check itself does not wait
    # Only the fixture's refresh: its views, the closed days, its views again (the first count).
    assert RefreshLog.objects.count() == 2 * len(VIEW_DEPENDENCIES) + 1
