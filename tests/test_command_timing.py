"""Management commands timed like requests (shopsite.db.commands): their queries counted, the slow
ones logged, each run handed to the recorder, whatever its ending, and a failed record never
failing the command."""

from __future__ import annotations

import logging
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from reports.models import CommandRun
from shopsite.db.commands import command_timed, exit_status
from tests.reports.helpers import refresh_lock_held

pytestmark = pytest.mark.django_db


def test_a_timed_command_counts_its_queries_and_database_time():
    with command_timed("clearsessions") as timing:
        call_command("clearsessions")

    run = CommandRun.objects.get()
    assert run.name == "clearsessions"
    assert run.exit_code == 0
    assert run.queries == timing.queries["default"] >= 1
    assert timedelta(0) < run.database_time <= run.duration


def test_the_slow_query_log_covers_commands(settings, caplog):
    settings.SLOW_QUERY_MS = 0  # every query is slow

    with caplog.at_level(logging.WARNING, logger="shopsite.slow_queries"), command_timed("clearsessions"):
        call_command("clearsessions")

    logged = [record.getMessage() for record in caplog.records if record.name == "shopsite.slow_queries"]
    assert logged
    assert all(" for manage.py clearsessions: " in line for line in logged)


def test_a_command_that_fails_is_recorded_with_its_exit_status():
    with refresh_lock_held(), pytest.raises(CommandError), command_timed("refresh_reports"):
        call_command("refresh_reports")  # another refresh holds the lock: exit 75

    run = CommandRun.objects.get()
    assert (run.name, run.exit_code) == ("refresh_reports", 75)
    assert run.queries >= 1  # it asked for the lock


def _query_then(ending: BaseException) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    raise ending


def test_a_command_that_exits_is_recorded_with_its_status():
    with pytest.raises(SystemExit), command_timed("import_products"):
        _query_then(SystemExit(3))  # sys.exit(3)

    assert CommandRun.objects.get().exit_code == 3


def test_a_command_that_raises_is_recorded_as_exit_1():
    with pytest.raises(ZeroDivisionError), command_timed("seed_demo"):
        _query_then(ZeroDivisionError())

    assert CommandRun.objects.get().exit_code == 1


@pytest.mark.parametrize(("code", "status"), [(None, 0), (0, 0), (75, 75), (256, 0), ("bad input", 1)])
def test_the_exit_status_is_what_a_shell_sees(code, status):
    assert exit_status(code) == status


def test_commands_without_a_query_and_interactive_ones_are_not_recorded():
    with command_timed("diffsettings"):
        call_command("diffsettings", stdout=StringIO())
    with command_timed("shell"), connection.cursor() as cursor:
        cursor.execute("SELECT 1")  # a person's session: its length is theirs

    assert not CommandRun.objects.exists()


def test_call_command_alone_records_nothing():
    # Only manage.py times its command: a test's (or a command's) call_command is no run of its own.
    call_command("clearsessions")

    assert not CommandRun.objects.exists()


def test_a_record_that_fails_is_logged_and_the_command_s_outcome_stands(caplog):
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE reports_commandrun")  # undone with the test's transaction

    with caplog.at_level(logging.WARNING, logger="shopsite.commands"), command_timed("clearsessions"):
        call_command("clearsessions")

    assert 'the run of clearsessions was not recorded: relation "reports_commandrun" does not exist' in (
        caplog.text
    )
    with connection.cursor() as cursor:  # the test's transaction was not spoiled by the failure
        cursor.execute("SELECT 1")


def test_a_recorder_that_cannot_be_found_is_logged(settings, caplog):
    settings.COMMAND_RUN_RECORDER = "reports.command_runs.no_such_recorder"

    with caplog.at_level(logging.WARNING, logger="shopsite.commands"), command_timed("clearsessions"):
        call_command("clearsessions")

    assert "the run of clearsessions was not recorded" in caplog.text
    assert not CommandRun.objects.exists()


def test_without_a_recorder_nothing_is_recorded(settings):
    settings.COMMAND_RUN_RECORDER = ""

    with command_timed("clearsessions"):
        call_command("clearsessions")

    assert not CommandRun.objects.exists()
