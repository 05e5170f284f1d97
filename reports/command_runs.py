"""The log of management command runs: shopsite.db.commands hands each finished run here
(COMMAND_RUN_RECORDER), and the database health page shows the slowest recent ones.

A row per run, on the primary, and the log pruned in the same transaction to the newest
COMMAND_RUNS_KEPT: two statements per command, however long the shop runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Subquery

from reports.models import CommandRun

if TYPE_CHECKING:
    from shopsite.db.commands import CommandRun as FinishedRun

COMMAND_RUNS_KEPT = 1_000


@transaction.atomic
def command_run_record(run: FinishedRun) -> CommandRun:
    """Save a finished command run and delete the runs older than the newest COMMAND_RUNS_KEPT."""
    saved = CommandRun.objects.create(
        name=run.name,
        started=run.started,
        duration=run.duration,
        queries=run.queries,
        database_time=run.database_time,
        exit_code=run.exit_code,
    )
    # Ids grow with each run: the first one too many is the oldest to go.
    oldest_kept = CommandRun.objects.order_by("-pk").values("pk")[COMMAND_RUNS_KEPT - 1 : COMMAND_RUNS_KEPT]
    CommandRun.objects.filter(pk__lt=Subquery(oldest_kept)).delete()
    return saved
