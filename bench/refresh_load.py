"""Refresh under load: every report view refreshed concurrently while the category page is loaded.

    .venv/bin/python bench/refresh_load.py [--seconds 8] [--connections 8]

gunicorn (2 sync workers) serves the benchmark database; wrk loads the category page on
127.0.0.1 for `--seconds` to measure p95 before, then for as long as a refresh of every view
takes (measured first, unloaded) while `manage.py refresh_reports` runs. Writes
bench/results/refresh_load.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR / "bench"))
sys.path.insert(0, str(BASE_DIR))

from common import machine_line, save_results  # noqa: E402
from web import Gunicorn, pages, server_environment, wrk  # noqa: E402


def refresh(env: dict[str, str]) -> float:
    """Refresh every report view concurrently, in another process; return how long it took (s)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "manage.py", "refresh_reports"], cwd=BASE_DIR, env=env, check=True,
                   capture_output=True, timeout=900)  # fmt: skip
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    env = server_environment()
    os.environ.update(env)
    import django

    django.setup()
    _, category_path, _ = pages(env)[2]
    refresh(env)  # populated, so the next ones are concurrent
    unloaded = refresh(env)
    window = max(2, round(unloaded))
    with Gunicorn(env) as base:
        url = base + category_path
        wrk(url, seconds=2, connections=args.connections)  # warm-up
        before = wrk(url, seconds=window, connections=args.connections)
        process = subprocess.Popen([sys.executable, "manage.py", "refresh_reports"], cwd=BASE_DIR, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
        started = time.perf_counter()
        during = wrk(url, seconds=window, connections=args.connections)
        output = process.communicate(timeout=900)[0].decode()
        loaded = time.perf_counter() - started
        if process.returncode != 0:
            sys.exit(f"refresh_reports failed under load:\n{output}")
    change = during["p95"] / before["p95"] - 1
    lines = [
        "# Refresh under load",
        "",
        f"Command: `.venv/bin/python bench/refresh_load.py --connections {args.connections}`",
        machine_line(),
        "",
        f"`refresh_reports` (every view, CONCURRENTLY) took {unloaded:.1f}s unloaded and {loaded:.1f}s "
        f"while wrk loaded the category page ({args.connections} connections, gunicorn 2 sync workers).",
        "",
        "| category page | requests/s | p50 ms | p95 ms | p99 ms | non-2xx | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, result in [(f"before ({window}s)", before), (f"during the refresh ({window}s)", during)]:
        latency = " | ".join(f"{result[p]:.1f}" for p in ("p50", "p95", "p99"))
        lines.append(
            f"| {name} | {result['rps']:,.0f} | {latency} | {result['non_2xx']} | {result['errors']} |"
        )
    lines += ["", f"p95 during the refresh is {change:+.0%} of p95 before."]
    figures = {
        "refresh_s_unloaded": unloaded,
        "refresh_s_loaded": loaded,
        "p95_before_ms": before["p95"],
        "p95_during_ms": during["p95"],
        "p95_change": change,
        "errors": during["errors"] + during["non_2xx"],
    }
    save_results("refresh_load", "\n".join(lines) + "\n", figures)


if __name__ == "__main__":
    main()
