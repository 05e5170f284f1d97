"""Refreshing the reports with real sessions: readers keep reading, one refresher at a time."""

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pytest
from django.core.management import call_command
from django.db import OperationalError, connection, transaction
from psycopg2 import errors

from reports.models import RefreshLog
from reports.services import reports_refresh
from tests.reports.helpers import empty_report_views, make_sales, refresh_lock_held

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(__file__).resolve().parents[2]
VIEW = "reports_sales_daily"


@pytest.fixture(autouse=True)
def _populated_views():
    """Some sales, refreshed once (plainly); the views are emptied again afterwards, as the flush
    at the end of a transactional test empties only the tables."""
    make_sales(5)
    reports_refresh()
    yield
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
        reports_refresh(views=[VIEW])
        concurrent = locks_held_on(VIEW)
    with transaction.atomic():
        reports_refresh(views=[VIEW], concurrently=False)
        plain = locks_held_on(VIEW)

    assert "ExclusiveLock" in concurrent  # one refresher at a time, readers welcome
    assert "AccessExclusiveLock" not in concurrent
    assert "AccessExclusiveLock" in plain  # what would block every reader


def test_a_reader_in_the_middle_of_a_transaction_does_not_stop_a_concurrent_refresh(settings):
    # A bound instead of a hang, should the refresh ever wait for the reader.
    settings.COMMAND_LOCK_TIMEOUT_MS = 10_000
    reader = session()
    reader.autocommit = False
    try:
        with reader.cursor() as cursor:
            cursor.execute(f"SELECT sum(orders) FROM {VIEW}")  # holds AccessShareLock until it ends
            assert cursor.fetchone()[0] == 5
        make_sales(1)

        call_command("refresh_reports", "--view", "sales_daily", verbosity=0)

        assert RefreshLog.objects.filter(view=VIEW, concurrently=True).exists()
        with reader.cursor() as cursor:
            # Still in its transaction, never blocked, and reading the new rows on its next statement.
            assert reader.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_INTRANS
            cursor.execute(f"SELECT sum(orders) FROM {VIEW}")
            assert cursor.fetchone()[0] == 6
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
            call_command("refresh_reports", "--view", "sales_daily", "--no-concurrently", verbosity=0)

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
    assert RefreshLog.objects.count() == 5  # only the fixture's refresh
