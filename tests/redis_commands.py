"""Count the commands the test run's own Redis database runs, as the server sees them (MONITOR).

INFO commandstats counts the whole server's commands: another test run or xdist worker using
another database of the same server would count too. MONITOR names each command's database.
"""

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import uuid4

from django_redis import get_redis_connection
from redis import ConnectionPool, Redis


@contextmanager
def redis_commands() -> Iterator[dict[str, int]]:
    """Yield a dict that holds, after the block, how many times Redis ran each command in it, on
    the test run's database."""
    redis = get_redis_connection("default")
    pool = redis.connection_pool
    db = pool.connection_kwargs.get("db", 0)
    # A connection of its own: borrowing the cache's would make the block open (and count) another.
    watcher = Redis(
        connection_pool=ConnectionPool(connection_class=pool.connection_class, **pool.connection_kwargs)
    )
    ran: dict[str, int] = {}
    try:
        with watcher.monitor() as monitor:
            yield ran
            # The end of the block, in the server's order of commands: this marker's own ECHO.
            marker = f"redis-commands-end-{uuid4().hex}"
            redis.echo(marker)
            counted: Counter[str] = Counter()
            while (command := monitor.next_command())["command"] != f"ECHO {marker}":
                if command["db"] == db:
                    counted[command["command"].split(" ", 1)[0].lower()] += 1
        ran.update(counted)
    finally:
        watcher.connection_pool.disconnect()
