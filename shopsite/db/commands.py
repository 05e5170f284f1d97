"""Each management command run through manage.py, timed as a request is: its queries per alias
and their time, the slow-query log ("for manage.py refresh_reports"), and a record of the run.

The record (name, start, duration, queries, database time, exit status; never the arguments,
which may hold secrets) goes to the function COMMAND_RUN_RECORDER names (the reports app keeps
them for the database health page), once the command has ended, whatever the ending. A record
that fails is logged and forgotten: it never fails the command nor changes its exit status.

The timing wraps the command manage.py runs (`execute_from_command_line`), not `call_command`: a
command that calls another is one run, and tests calling commands record nothing unless they
time a command themselves (`command_timed`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.management import CommandError, ManagementUtility
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone
from django.utils.module_loading import import_string

from shopsite.db.timing import QueryTimer, RequestTiming, current_timing

logger = logging.getLogger("shopsite.commands")

# Never recorded: a person's session (its length is theirs, not the database's), and the
# developer's looks at the code and its migrations, which only read (and run before `migrate`).
NOT_RECORDED = frozenset(
    {
        "runserver",
        "shell",
        "dbshell",
        "testserver",
        "test",
        "check",
        "makemigrations",
        "showmigrations",
        "sqlmigrate",
    }
)


@dataclass(frozen=True)
class CommandRun:
    name: str
    started: datetime
    duration: timedelta
    queries: int
    database_time: timedelta
    exit_code: int  # what the shell saw: 0 succeeded


@contextmanager
def command_timed(name: str) -> Iterator[RequestTiming]:
    """Time the queries of every alias while the block runs a command, log the slow ones, and
    record the run when it ends, also when it raises or exits."""
    timing = RequestTiming(path=f"manage.py {name}")
    token = current_timing.set(timing)
    started, clock = timezone.now(), time.perf_counter()
    exit_code = 1  # an exception out of a command: Python exits 1
    try:
        with ExitStack() as stack:
            for alias in settings.DATABASES:
                stack.enter_context(connections[alias].execute_wrapper(QueryTimer(timing, alias)))
            yield timing
        exit_code = 0
    except SystemExit as exit:
        exit_code = exit_status(exit.code)
        raise
    except CommandError as error:  # through call_command; manage.py turns it into SystemExit
        exit_code = exit_status(error.returncode)
        raise
    except KeyboardInterrupt:
        exit_code = 130  # as a shell reports a Ctrl-C
        raise
    finally:
        current_timing.reset(token)
        command_run_record(
            CommandRun(
                name=name,
                started=started,
                duration=timedelta(seconds=time.perf_counter() - clock),
                queries=sum(timing.queries.values()),
                database_time=timedelta(seconds=sum(timing.seconds.values())),
                exit_code=exit_code,
            )
        )


def exit_status(code: object) -> int:
    """Return the status a shell sees for `sys.exit(code)`."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code % 256
    return 1  # sys.exit("message") prints it and exits 1


def command_run_record(run: CommandRun) -> None:
    """Hand a finished run to COMMAND_RUN_RECORDER, unless nobody is to record it; log a failure."""
    # Without a query the command did not use the database: no connection opened just to say so.
    if not settings.COMMAND_RUN_RECORDER or run.name in NOT_RECORDED or not run.queries:
        return
    try:
        connection = connections[DEFAULT_DB_ALIAS]
        if not connection.in_atomic_block:
            # As Django does between requests: a long command may have outlived its connection.
            connection.close_if_unusable_or_obsolete()
        import_string(settings.COMMAND_RUN_RECORDER)(run)
    except Exception as error:  # the command's outcome stands, whatever went wrong here
        from shopsite.db.replicas import error_summary  # here: manage.py imports this module early

        logger.warning("the run of %s was not recorded: %s", run.name, error_summary(error))


class TimedManagementUtility(ManagementUtility):
    """Django's manage.py utility, timing the one command it runs (`command_timed`)."""

    def fetch_command(self, subcommand):
        command = super().fetch_command(subcommand)
        run_from_argv = command.run_from_argv

        def timed_run_from_argv(argv):
            with command_timed(subcommand):
                run_from_argv(argv)

        # This instance only, the one manage.py runs (`help <command>` fetches one, never runs it).
        command.run_from_argv = timed_run_from_argv
        return command


def execute_from_command_line(argv: list[str]) -> None:
    """Run the command `argv` names, as Django's function of this name does, timed: manage.py's."""
    TimedManagementUtility(argv).execute()
