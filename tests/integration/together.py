"""Run calls at the same moment, each in its own thread with its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connections

START_TIMEOUT = 30  # seconds for every thread to reach the start line
FINISH_TIMEOUT = 120  # seconds for every thread to finish; a deadlock would be detected long before


def run_together(calls: list[Callable[[], object]]) -> list[object]:
    """Run every call in its own thread, all released at once; return each outcome in order.

    An outcome is what the call returned or the exception it raised: the test checks each one.
    """
    start = threading.Barrier(len(calls))
    outcomes: list[object] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        try:
            start.wait(timeout=START_TIMEOUT)
            outcomes[index] = call()
        except Exception as error:  # every outcome is checked by the test, whatever it is
            outcomes[index] = error
        finally:
            connections.close_all()  # this thread's own connections: give them back

    threads = [
        threading.Thread(target=run, args=(index, call), name=f"together-{index}")
        for index, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=FINISH_TIMEOUT)
    assert not [thread.name for thread in threads if thread.is_alive()], "threads still running"
    return outcomes
