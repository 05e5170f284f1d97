"""What every benchmark script shares: its database, the machine line, where results go.

BENCH_DATABASE_SUFFIX names the benchmark's database (`<name><suffix>`, default `_bench`) and
BENCH_RESULTS_DIR where results are written (default bench/results): `make bench` and its smoke
run in the test suite use their own, so neither overwrites the other.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def bench_database_url(suffix: str | None = None) -> str:
    """Create the benchmark database next to the configured one if missing; return its URL."""
    import environ
    import psycopg2

    environ.Env.read_env(BASE_DIR / "var" / "stack.env")
    url = os.environ["DATABASE_URL"]
    config = environ.Env.db_url_config(url)
    name = config["NAME"] + (
        suffix if suffix is not None else os.environ.get("BENCH_DATABASE_SUFFIX", "_bench")
    )
    admin = psycopg2.connect(
        dbname="postgres",
        user=config["USER"],
        password=config["PASSWORD"],
        host=config["HOST"],
        port=config["PORT"],
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if not cursor.fetchone():
            cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    return url.rsplit("/", 1)[0] + "/" + name


def replica_urls(database_url: str) -> str:
    """Return REPLICA_DATABASE_URLS pointed at the same database name as `database_url`."""
    name = database_url.rsplit("/", 1)[1]
    urls = [url for url in os.environ.get("REPLICA_DATABASE_URLS", "").split(",") if url]
    return ",".join(url.rsplit("/", 1)[0] + "/" + name for url in urls)


def machine_line() -> str:
    """Return one line naming the machine, the database and Redis versions, and the commit."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    redis = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()
    redis_version = next((word[2:] for word in redis if word.startswith("v=")), "unknown")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=BASE_DIR
    )
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"Machine: {os.cpu_count()} cores, {memory:.0f} GiB, {platform.platform()}, "
        f"Python {platform.python_version()}, PostgreSQL {pg_version}, Redis {redis_version}, "
        f"commit {commit.stdout.strip() or 'unknown'}"
    )


def results_dir() -> Path:
    path = Path(os.environ.get("BENCH_RESULTS_DIR", BASE_DIR / "bench" / "results"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_results(name: str, markdown: str, figures: dict) -> None:
    """Print a benchmark's report and write it, with its key figures as JSON for `make bench`."""
    print(markdown)
    (results_dir() / f"{name}.md").write_text(markdown)
    (results_dir() / f"{name}.json").write_text(json.dumps(figures, indent=2, default=str))
