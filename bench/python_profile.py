"""A py-spy profile of one running Python process: the functions it was in, by share of samples.

    with PythonProfile(pid, seconds=4) as profile:
        ...  # the load
    profile.top(8)  # [("send_packed_command (redis/connection.py:1349)", 0.27), ...]

py-spy reads the process's stacks from outside (`--nonblocking`: it never pauses the process, so
the latencies measured meanwhile stay true) and counts idle samples too (`--idle`): a worker
waiting for a core, or in a system call that handed its core to another process, shows up in
the function that made the call. Needs the right to trace the process (root, or the same user
with ptrace allowed).
"""

from __future__ import annotations

import collections
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PY_SPY = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")


class PythonProfile:
    def __init__(self, pid: int, *, seconds: int, rate: int = 200):
        self.command = [PY_SPY or "py-spy", "record", "--pid", str(pid), "--duration", str(seconds),
                        "--rate", str(rate), "--format", "raw", "--idle", "--nonblocking"]  # fmt: skip
        self.counts: collections.Counter[str] = collections.Counter()

    def __enter__(self) -> PythonProfile:
        self.output = Path(tempfile.mkdtemp()) / "profile.txt"
        self.process = subprocess.Popen([*self.command, "--output", str(self.output)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
        return self

    def __exit__(self, *exc):
        stderr = self.process.communicate(timeout=120)[1].decode(errors="replace")
        if self.process.returncode != 0 or not self.output.exists():
            raise RuntimeError(f"py-spy failed: {stderr.strip()[-500:]}")
        # One line per distinct stack: "outer;...;innermost count". Bytes of a stack may not be UTF-8.
        for line in self.output.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            self.counts[stack.split(";")[-1] or "(no Python frame)"] += int(count)
        shutil.rmtree(self.output.parent)

    def top(self, count: int) -> list[tuple[str, float]]:
        """Return the `count` functions the process was in most, with their share of the samples."""
        total = sum(self.counts.values()) or 1
        return [(function, samples / total) for function, samples in self.counts.most_common(count)]


def available() -> bool:
    """Whether py-spy is installed and this process may trace its own children."""
    scope = Path("/proc/sys/kernel/yama/ptrace_scope")
    allowed = os.geteuid() == 0 or not scope.exists() or scope.read_text().strip() in {"0", "1"}
    return PY_SPY is not None and allowed


def children(pid: int) -> list[int]:
    """Return the PIDs of a process's children (a gunicorn master's workers)."""
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
