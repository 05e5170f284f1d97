"""Count the commands the test Redis runs, from the server's own counters (INFO commandstats)."""

from collections.abc import Iterator
from contextlib import contextmanager

from django_redis import get_redis_connection


def _calls() -> dict[str, int]:
    stats = get_redis_connection("default").info("commandstats")
    calls = {name.removeprefix("cmdstat_"): values["calls"] for name, values in stats.items()}
    calls.pop("info", None)  # the counting's own
    return calls


@contextmanager
def redis_commands() -> Iterator[dict[str, int]]:
    """Yield a dict that holds, after the block, how many times Redis ran each command in it."""
    ran: dict[str, int] = {}
    before = _calls()
    yield ran
    after = _calls()
    ran.update(
        {name: calls - before.get(name, 0) for name, calls in after.items() if calls != before.get(name, 0)}
    )
