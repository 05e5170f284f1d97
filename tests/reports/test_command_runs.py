"""The log of management command runs (reports.command_runs): one row per run, pruned to the
newest, and manage.py recording every command it runs, with its exit status."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from reports import command_runs
from reports.command_runs import command_run_record
from reports.models import CommandRun
from shopsite.db.commands import CommandRun as FinishedRun
from tests.reports.helpers import refresh_lock_held


def finished(name: str = "refresh_reports", *, exit_code: int = 0) -> FinishedRun:
    return FinishedRun(
        name=name,
        started=timezone.now(),
        duration=timedelta(seconds=4.5),
        queries=17,
        database_time=timedelta(seconds=4.1),
        exit_code=exit_code,
    )


@pytest.mark.django_db
def test_a_finished_run_is_saved_as_it_ended():
    saved = command_run_record(finished(exit_code=75))

    assert CommandRun.objects.get() == saved
    assert (saved.name, saved.queries, saved.exit_code) == ("refresh_reports", 17, 75)
    assert saved.duration == timedelta(seconds=4.5)
    assert saved.database_time == timedelta(seconds=4.1)


@pytest.mark.django_db
def test_only_the_newest_runs_are_kept(monkeypatch):
    monkeypatch.setattr(command_runs, "COMMAND_RUNS_KEPT", 3)

    for n in range(5):
        command_run_record(finished(f"command_{n}"))

    kept = sorted(CommandRun.objects.values_list("name", flat=True))
    assert kept == ["command_2", "command_3", "command_4"]


@pytest.mark.django_db
@pytest.mark.parametrize("runs", [1, 30])
def test_a_record_costs_two_statements_whatever_the_log_s_size(runs, django_assert_num_queries):
    for n in range(runs):
        command_run_record(finished(f"command_{n}"))

    # the insert; the delete of the runs beyond the newest COMMAND_RUNS_KEPT (and, inside the
    # test's transaction only, the savepoint of @transaction.atomic and its release)
    with django_assert_num_queries(4) as captured:
        command_run_record(finished())
    assert [query["sql"].split()[0] for query in captured.captured_queries] == [
        "SAVEPOINT",
        "INSERT",
        "DELETE",
        "RELEASE",
    ]


def _manage_py(*args: str) -> subprocess.CompletedProcess:
    """Run manage.py as cron does, on the test database (the primary only)."""
    database = connection.settings_dict["NAME"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "shopsite.settings.test",
        "DATABASE_URL": os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{database}",
        "REPLICA_DATABASE_URLS": "",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.django_db(transaction=True)  # the runs are committed by another process
def test_manage_py_records_each_command_it_runs_with_its_exit_status():
    cleared = _manage_py("clearsessions")
    with refresh_lock_held():
        busy = _manage_py("refresh_reports", "--verbosity", "0")

    assert (cleared.returncode, busy.returncode) == (0, 75), cleared.stderr + busy.stderr
    runs = {run.name: run for run in CommandRun.objects.all()}
    assert sorted(runs) == ["clearsessions", "refresh_reports"]
    assert runs["clearsessions"].exit_code == 0
    assert runs["refresh_reports"].exit_code == 75
    for run in runs.values():
        assert run.queries >= 1
        assert timezone.now() - timedelta(minutes=5) < run.started < timezone.now()
        assert timedelta(0) < run.database_time <= run.duration
