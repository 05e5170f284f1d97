"""Refresh under load: the routine refresh, one after another, while the category page is loaded.

    .venv/bin/python bench/refresh_load.py [--runs 3] [--connections 8] [--seconds 5]

gunicorn (2 sync workers) serves the benchmark database; wrk loads the category page on
127.0.0.1. Each run measures the page's p95 for a window, then again for a window during which
one process refreshes the reports again and again (`reports_refresh()` in a loop: the routine
refresh, back to back, so that the whole window is under a refresh, not a slice of it). The
refresh settings compared in the same run, taking turns:

1. the server's defaults (parallel workers, the server's work_mem);
2. shopsite's (one core, its own work_mem: REPORTS_REFRESH_* in the settings);
3. shopsite's with the refresh's backend at the lowest CPU priority (as root only): not what
   shopsite does, but the test of what is left, that the page waits for the core the refresh takes.

Profiles: CPU time by kind of process in every window (bench/cpu.py), and py-spy of a gunicorn
worker before and during a refresh (bench/python_profile.py). Writes bench/results/refresh_load.md.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR / "bench"))
sys.path.insert(0, str(BASE_DIR))

from common import machine_line, save_results  # noqa: E402
from cpu import ProcessCPU, cores  # noqa: E402
from python_profile import PythonProfile, available, children  # noqa: E402
from web import Gunicorn, catalog_paths, server_environment, shop_data, wrk  # noqa: E402

# The refresh's connection is named this (application_name), so that the bench finds its backend.
REFRESH_APPLICATION_NAME = "shopsite-bench-refresh"


# Refreshes until the deadline, printing each one's milliseconds: one Django start for them all.
REFRESH_LOOP = """
import time
from reports.services import reports_refresh
deadline = time.monotonic() + {seconds}
while time.monotonic() < deadline:
    started = time.perf_counter()
    reports_refresh()
    print(f"refreshed {{(time.perf_counter() - started) * 1000:.1f}}", flush=True)
"""


def refresh_loop(env: dict[str, str], seconds: float) -> subprocess.Popen:
    """Start refreshing the reports for `seconds`, back to back, and return once the loop's
    database backend has connected."""
    env = {**env, "DATABASE_APPLICATION_NAME": REFRESH_APPLICATION_NAME}
    code = REFRESH_LOOP.format(seconds=seconds)
    process = subprocess.Popen([sys.executable, "manage.py", "shell", "-c", code], cwd=BASE_DIR, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    backend = refresh_backend(process)
    if backend is not None and env.get("BENCH_REFRESH_NICE"):
        lowest_priority(backend)
    return process


def refresh_backend(process: subprocess.Popen) -> int | None:
    """Return the PID of the PostgreSQL backend serving the refresh `process` once it connects,
    or None if the process ended first (a tiny database refreshes between two looks)."""
    from django.db import connection

    while process.poll() is None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [REFRESH_APPLICATION_NAME]
            )
            if row := cursor.fetchone():
                return row[0]
        time.sleep(0.01)
    return None


def lowest_priority(pid: int) -> None:
    """Give a local process the lowest CPU priority, as an operator would with nice or CPUWeight=.

    PostgreSQL starts every backend in a session of its own, and with the kernel's autogroups
    (on here) each session shares the CPU equally with every other one, whatever its nice value:
    the autogroup's own nice is what counts.
    """
    process = Path(f"/proc/{pid}")
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # it may have ended meanwhile
        if not (process / "cmdline").read_bytes().startswith(b"postgres"):
            return  # not this machine's backend: the database runs elsewhere
        os.setpriority(os.PRIO_PROCESS, pid, 19)
        if (process / "autogroup").exists():
            (process / "autogroup").write_text("19")


def can_lower_priority_of_the_database() -> bool:
    """Whether this process may renice the database's backends: it runs here, and we are root."""
    return os.geteuid() == 0 and Path("/proc/self/autogroup").exists()


def finish(process: subprocess.Popen) -> list[float]:
    """Wait for a refresh loop to end; return each of its refreshes' milliseconds."""
    output = process.communicate(timeout=900)[0].decode()
    if process.returncode != 0:
        sys.exit(f"the refresh loop failed:\n{output}")
    return [float(line.split()[1]) for line in output.splitlines() if line.startswith("refreshed ")]


def refreshes_alone(env: dict[str, str], seconds: float) -> list[float]:
    """Refresh for `seconds` with nothing else running; return each refresh's milliseconds."""
    return finish(refresh_loop(env, seconds))


def server_defaults() -> tuple[str, str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('max_parallel_workers_per_gather'), current_setting('work_mem')"
        )
        return cursor.fetchone()


def measure(variants, url, *, runs: int, connections: int, window: int, cpu: ProcessCPU) -> dict[str, dict]:
    """For each refresh setting, `runs` times: the page's p95 for a window, then for a window while
    refreshes run back to back. The settings take turns within each run, so drift spreads over all."""
    results = {}
    for name, env in variants:
        # Alone, after a first loop that warms each setting's plans and caches.
        refreshes_alone(env, 2)
        unloaded = statistics.median(refreshes_alone(env, 3))
        results[name] = {"unloaded": unloaded, "window": window, "runs": []}
        results[name]["cpu"] = {"before": {}, "during": {}}
    for _ in range(runs):
        for name, env in variants:
            result = results[name]
            mark = cpu.mark()
            before = wrk(url, seconds=window, connections=connections)
            _add(result["cpu"]["before"], cpu.since(mark))
            # The window starts once the loop's first refresh has begun, and it ends before the loop.
            process = refresh_loop(env, window + 2)
            mark = cpu.mark()
            during = wrk(url, seconds=window, connections=connections)
            _add(result["cpu"]["during"], cpu.since(mark))
            loaded = finish(process)
            result["runs"].append({"before": before, "during": during, "loaded": loaded})
    for result in results.values():
        seconds = runs * result["window"]
        result["cpu_before"] = cores(result["cpu"]["before"], seconds)
        result["cpu_during"] = cores(result["cpu"]["during"], seconds)
        changes = [run["during"]["p95"] / run["before"]["p95"] - 1 for run in result["runs"]]
        result["p95_change"] = statistics.median(changes)
        result["p95_changes"] = changes
    return results


def python_profiles(env, url, *, window: int, connections: int, worker: int) -> dict[str, list]:
    """py-spy one gunicorn worker for a window of load, then for a window of load during refreshes."""
    with PythonProfile(worker, seconds=window) as before:
        wrk(url, seconds=window, connections=connections)
    process = refresh_loop(env, window + 2)
    with PythonProfile(worker, seconds=window) as during:
        wrk(url, seconds=window, connections=connections)
    finish(process)
    return {"before": before.top(8), "during": during.top(8)}


def _add(total: dict[str, float], used: dict[str, float]) -> None:
    for kind, seconds in used.items():
        total[kind] = total.get(kind, 0.0) + seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=5, help="each window of load")
    args = parser.parse_args()
    env = server_environment()
    os.environ.update(env)
    import django

    django.setup()
    category_path, _ = catalog_paths(shop_data(env, 0))
    workers, work_mem = server_defaults()
    variants = [
        (
            f"the server's defaults: {workers} parallel workers per query, work_mem {work_mem}",
            {**env, "REPORTS_REFRESH_PARALLEL_WORKERS": workers, "REPORTS_REFRESH_WORK_MEM": work_mem},
        ),
        ("shopsite's settings: one core, work_mem 64MB", env),
    ]
    if can_lower_priority_of_the_database():
        variants.append(
            ("shopsite's settings, the refresh backend at nice 19", {**env, "BENCH_REFRESH_NICE": "1"})
        )
    profiles = None
    server = Gunicorn(env)
    with server as base, ProcessCPU() as cpu:
        url = base + category_path
        wrk(url, seconds=2, connections=args.connections)  # warm-up
        results = measure(
            variants, url, runs=args.runs, connections=args.connections, window=args.seconds, cpu=cpu
        )
        if available():  # apart from the measured runs: the profiler takes some CPU itself
            window, worker = results[variants[1][0]]["window"], children(server.process.pid)[0]
            profiles = python_profiles(env, url, window=window, connections=args.connections, worker=worker)
    save_results("refresh_load", report(args, results, profiles), figures(results))


def report(args, results: dict[str, dict], profiles: dict[str, list] | None) -> str:
    lines = [
        "# Refresh under load",
        "",
        "Command: `.venv/bin/python bench/refresh_load.py "
        f"--runs {args.runs} --connections {args.connections} --seconds {args.seconds}`",
        machine_line(),
        "",
        f"wrk loads the category page ({args.connections} connections; gunicorn, 2 sync workers) for "
        f"{args.seconds} s alone, then for {args.seconds} s while one process runs the routine refresh "
        "(`reports_refresh()`: the recent views CONCURRENTLY, the days that close, the log) again and "
        f"again, back to back; {args.runs} runs of each. p95 and requests/s are medians over the runs; "
        "the change is the median of each run's own change (min to max). A refresh's time is the "
        "median of those the loop ran.",
        "",
        "| refresh settings | refresh unloaded ms | under load ms | refreshes in a window | p95 before ms "
        "| p95 during ms | p95 change | requests/s before | during | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, result in results.items():
        runs = result["runs"]

        def median(when, key, runs=runs):
            return statistics.median(run[when][key] for run in runs)

        errors = sum(run["during"]["errors"] + run["during"]["non_2xx"] for run in runs)
        spread = f"{min(result['p95_changes']):+.0%} to {max(result['p95_changes']):+.0%}"
        loaded = [ms for run in runs for ms in run["loaded"]]
        per_window = statistics.median(len(run["loaded"]) for run in runs)
        lines.append(
            f"| {name} | {result['unloaded']:,.0f} | {statistics.median(loaded):,.0f} | {per_window:.0f} "
            f"| {median('before', 'p95'):.1f} | {median('during', 'p95'):.1f} "
            f"| **{result['p95_change']:+.0%}** ({spread}) | {median('before', 'rps'):,.0f} "
            f"| {median('during', 'rps'):,.0f} | {errors} |"
        )
    names = list(results)
    kinds = list(dict.fromkeys(k for r in results.values() for k in [*r["cpu_during"], *r["cpu_before"]]))
    lines += [
        "",
        "Where the 2 cores went (bench/cpu.py: CPU time per kind of process over the windows, in cores "
        "busy on average; the top entries):",
        "",
        "| process | before a refresh | "
        + " | ".join(f"during, {name.split(':')[0]}" for name in names)
        + " |",
        "|---|---:|" + "---:|" * len(names),
    ]
    first = results[names[1]]
    for kind in sorted(kinds, key=lambda k: -max(r["cpu_during"].get(k, 0) for r in results.values()))[:9]:
        during = " | ".join(f"{results[name]['cpu_during'].get(kind, 0):.2f}" for name in names)
        lines.append(f"| {kind} | {first['cpu_before'].get(kind, 0):.2f} | {during} |")
    if profiles:
        lines += [
            "",
            "py-spy of one gunicorn worker, shopsite's settings (bench/python_profile.py: the function "
            "each sample was in, idle included; its own windows, apart from the runs above):",
            "",
            "| before a refresh | share | during a refresh | share |",
            "|---|---:|---|---:|",
        ]
        pairs = itertools.zip_longest(profiles["before"], profiles["during"], fillvalue=("", 0.0))
        for (before, before_share), (during, during_share) in pairs:
            lines.append(f"| `{before}` | {before_share:.0%} | `{during}` | {during_share:.0%} |")
    return "\n".join(lines) + "\n"


def figures(results: dict[str, dict]) -> dict:
    default, ours, *niced = results.values()
    return {
        "p95_change_refresh_at_nice_19": niced[0]["p95_change"] if niced else None,
        "p95_change": ours["p95_change"],
        "p95_changes": ours["p95_changes"],
        "p95_change_server_defaults": default["p95_change"],
        "refresh_ms_unloaded": ours["unloaded"],
        "refresh_ms_under_load": statistics.median(ms for run in ours["runs"] for ms in run["loaded"]),
        "refresh_ms_unloaded_server_defaults": default["unloaded"],
        "cpu_during": ours["cpu_during"],
        "cpu_during_server_defaults": default["cpu_during"],
        "cpu_before": ours["cpu_before"],
        "errors": sum(run["during"]["errors"] + run["during"]["non_2xx"] for run in ours["runs"]),
    }


if __name__ == "__main__":
    main()
