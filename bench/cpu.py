"""Where the machine's CPU goes during a benchmark window: CPU seconds per kind of process.

A profile of processes rather than of Python: when a page slows down because something else takes
the cores (a report refresh in a PostgreSQL backend, its parallel workers, WAL replay on the
replicas), py-spy on gunicorn only shows the same Python, slower. This reads user + system time of
every process from /proc ten times a second (so processes that end inside a window still count)
and sums it by what the process is, from its command line (PostgreSQL puts its role there).

    with ProcessCPU() as cpu:
        start = cpu.mark()
        ...
        used = cpu.since(start)  # {"gunicorn workers": 3.4, "PostgreSQL: refresh backend": 4.9, ...}
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")

# (what the command line contains, the kind of process), first match wins.
KINDS = [
    ("REFRESH MATERIALIZED", "PostgreSQL: refresh backend"),
    ("parallel worker", "PostgreSQL: parallel workers"),
    ("startup recovering", "PostgreSQL: WAL replay on the replicas"),
    ("walsender", "PostgreSQL: WAL streaming"),
    ("walreceiver", "PostgreSQL: WAL streaming"),
    ("autovacuum", "PostgreSQL: autovacuum"),
    ("gunicorn", "gunicorn (2 workers)"),
    ("manage.py refresh_reports", "refresh_reports (its Python)"),
    ("manage.py shell", "the refresh loop (its Python)"),
    ("wrk ", "wrk (the load)"),
    ("redis-server", "Redis"),
    ("postgres", "PostgreSQL: other processes"),
]


class ProcessCPU:
    def __init__(self, interval: float = 0.1):
        self.interval = interval
        self.ticks: dict[int, int] = {}
        self.kind: dict[int, str] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def __enter__(self) -> ProcessCPU:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join()

    def mark(self) -> dict[int, int]:
        """Return the CPU ticks seen so far per process, to subtract later."""
        self._sample()
        with self.lock:
            return dict(self.ticks)

    def since(self, mark: dict[int, int]) -> dict[str, float]:
        """Return the CPU seconds used since `mark` by each kind of process, largest first."""
        self._sample()
        used: dict[str, float] = defaultdict(float)
        with self.lock:
            for pid, ticks in self.ticks.items():
                if ticks > mark.get(pid, 0):
                    used[self.kind[pid]] += (ticks - mark.get(pid, 0)) / TICKS_PER_SECOND
        return dict(sorted(used.items(), key=lambda item: -item[1]))

    def _run(self) -> None:
        while not self.stopping.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            pid = int(name)
            try:
                with open(f"/proc/{pid}/stat") as stat_file:
                    stat = stat_file.read()
                with open(f"/proc/{pid}/cmdline", "rb") as cmdline_file:
                    command = cmdline_file.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:  # it ended meanwhile
                continue
            fields = stat[stat.rfind(")") + 2 :].split()
            ticks = int(fields[11]) + int(fields[12])  # utime + stime
            with self.lock:
                self.ticks[pid] = ticks
                # A backend's title changes with its query: once seen refreshing, it stays the refresh's.
                if self.kind.get(pid) != KINDS[0][1]:
                    self.kind[pid] = next((kind for part, kind in KINDS if part in command), "other")


def cores(used: dict[str, float], seconds: float) -> dict[str, float]:
    """Return CPU seconds over a window as cores busy on average."""
    return {kind: value / seconds for kind, value in used.items()}
