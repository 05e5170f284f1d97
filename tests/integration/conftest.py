import pytest
from django.conf import settings

from tests.integration.faults import scalar


@pytest.fixture
def paused_replay():
    """Pause WAL replay on every replica: they keep receiving the primary's writes, apply none."""
    for alias in settings.REPLICA_ALIASES:
        scalar(alias, "SELECT pg_wal_replay_pause()")
    yield
    for alias in settings.REPLICA_ALIASES:
        scalar(alias, "SELECT pg_wal_replay_resume()")
