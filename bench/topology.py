"""Production topology benchmark: PgBouncer against direct connections with many more workers than
server connections, a connection storm with and without the pooler, and what nginx in front of
gunicorn costs per request and buys against slow clients.

    .venv/bin/python bench/topology.py [--seconds 5] [--workers 32] [--connections 64] [--storm 300]

Serves the benchmark database (`<name>_bench`) with the production settings, on loopback only,
bounded in time; stops every process it started. Server backends are counted by each PostgreSQL
server (pg_stat_activity on the benchmark database), sampled during the load. Writes
bench/results/topology.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR / "bench"))
sys.path.insert(0, str(BASE_DIR))

from common import machine_line, save_results  # noqa: E402
from web import Gunicorn, catalog_paths, server_environment, shop_data, wrk  # noqa: E402

from shopsite.localstack import web as stack_web  # noqa: E402
from tests.integration.topology import slow_clients  # noqa: E402


def with_database(direct_url: str, url: str) -> str:
    """The direct server's URL with the benchmark database's name."""
    return direct_url.rsplit("/", 1)[0] + "/" + url.rsplit("/", 1)[1]


def direct_environment(pooled: dict[str, str]) -> dict[str, str]:
    """The same server, connected to PostgreSQL itself: no pooler in between."""
    replicas = [url for url in pooled["REPLICA_DATABASE_URLS"].split(",") if url]
    directs = [url for url in os.environ.get("REPLICA_DIRECT_URLS", "").split(",") if url]
    return pooled | {
        "DATABASE_URL": with_database(os.environ["DATABASE_DIRECT_URL"], pooled["DATABASE_URL"]),
        "REPLICA_DATABASE_URLS": ",".join(
            with_database(direct, url) for direct, url in zip(directs, replicas, strict=True)
        ),
        "DATABASE_POOLER": "",
    }


def server_urls(env: dict[str, str]) -> list[tuple[str, str]]:
    """(name, direct URL) of every PostgreSQL server, on the benchmark database."""
    name = env["DATABASE_URL"]
    directs = [os.environ["DATABASE_DIRECT_URL"], *os.environ.get("REPLICA_DIRECT_URLS", "").split(",")]
    labels = ["primary"] + [f"replica {n}" for n in range(1, len(directs))]
    return [(label, with_database(url, name)) for label, url in zip(labels, directs, strict=True) if url]


class BackendPeak:
    """The most client backends each server had on the benchmark database while the block ran."""

    def __init__(self, servers: list[tuple[str, str]]):
        self.servers = servers
        self.peak = {label: 0 for label, _ in servers}

    def __enter__(self):
        import psycopg2

        self.stop = threading.Event()
        self.sessions = [(label, psycopg2.connect(url)) for label, url in self.servers]
        for _, session in self.sessions:
            session.autocommit = True
        self.thread = threading.Thread(target=self._watch)
        self.thread.start()
        return self

    def _watch(self):
        while not self.stop.wait(0.05):  # a sampling interval
            for label, session in self.sessions:
                with session.cursor() as cursor:
                    cursor.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
                    )
                    self.peak[label] = max(self.peak[label], cursor.fetchone()[0])

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        for _, session in self.sessions:
            session.close()


def workers_against_the_pool(env: dict, *, workers: int, connections: int, seconds: int) -> list[dict]:
    rows = []
    for label, server_env in (("PgBouncer", env), ("direct", direct_environment(env))):
        with Gunicorn(server_env, workers=workers) as base:
            path, _ = catalog_paths(shop_data(server_env, 0))  # rendered each time (miss.lua): queries
            for _ in range(2):  # every worker connects, as after a deploy
                wrk(base + path, seconds=1, connections=connections, script="miss.lua")
            with BackendPeak(server_urls(server_env)) as backends:
                result = wrk(base + path, seconds=seconds, connections=connections, script="miss.lua")
        rows.append({"setup": label, **result, "backends": backends.peak})
    return rows


def _connect_once(url: str, barrier: threading.Barrier) -> tuple[float | None, str]:
    """Wait for every other client, then connect, run one query and leave: (seconds, error)."""
    import psycopg2

    barrier.wait()
    started = time.perf_counter()
    try:
        session = psycopg2.connect(url, connect_timeout=10)
        with session.cursor() as cursor:
            cursor.execute("SELECT 1")
        session.close()
    except psycopg2.Error as error:
        return None, str(error).splitlines()[0]
    return time.perf_counter() - started, ""


def connection_storm(env: dict, *, clients: int) -> list[dict]:
    """`clients` clients connect at once, run one query and leave, as when workers restart."""
    import psycopg2

    rows = []
    for label, url in (
        ("PgBouncer", env["DATABASE_URL"]),
        ("direct", direct_environment(env)["DATABASE_URL"]),
    ):
        barrier = threading.Barrier(clients)
        with ThreadPoolExecutor(max_workers=clients) as pool:
            results = list(
                pool.map(lambda _, barrier=barrier, url=url: _connect_once(url, barrier), range(clients))
            )
        times = sorted(took for took, _ in results if took is not None)
        errors = [error for took, error in results if took is None]
        sequential_started = time.perf_counter()
        for _ in range(200):
            psycopg2.connect(url).close()
        per_second = 200 / (time.perf_counter() - sequential_started)
        rows.append(
            {
                "setup": label,
                "served": len(times),
                "failed": len(errors),
                "first_error": errors[0] if errors else "",
                "p50_ms": statistics.median(times) * 1000 if times else None,
                "p99_ms": times[max(int(len(times) * 0.99) - 1, 0)] * 1000 if times else None,
                "connections_per_s": per_second,
            }
        )
    return rows


def answered_within(url: str, seconds: float) -> float | None:
    started = time.perf_counter()
    try:
        urllib.request.urlopen(url, timeout=seconds).read()
    except OSError:
        return None
    return time.perf_counter() - started


def nginx_in_front(env: dict, *, connections: int, seconds: int) -> dict:
    env = env | {"TRUSTED_PROXY_COUNT": "1"}
    with Gunicorn(env, workers=2) as app:
        app_port = int(app.rsplit(":", 1)[1])
        nginx = stack_web.Nginx(
            BASE_DIR / "var" / "bench-nginx", _free_port(), app_port, BASE_DIR / "var" / "static"
        )
        process = nginx.start()
        try:
            site = f"http://127.0.0.1:{nginx.listen_port}"
            alone = wrk(app + "/bench/hello", seconds=seconds, connections=connections)
            behind = wrk(site + "/bench/hello", seconds=seconds, connections=connections)
            slow = {}
            for label, base, port in (
                ("gunicorn alone", app, app_port),
                ("behind nginx", site, nginx.listen_port),
            ):
                with slow_clients(port, 12, longest=20):
                    time.sleep(0.5)  # the slow clients reach the workers first
                    slow[label] = [answered_within(base + "/healthz", 3) for _ in range(5)]
        finally:
            process.terminate()
            process.wait(timeout=20)
    return {"alone": alone, "behind": behind, "slow": slow}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def report(args, pool_rows, storm_rows, nginx) -> tuple[str, dict]:
    size = int(os.environ.get("POOL_SIZE", "20")) + int(os.environ.get("POOL_OVERFLOW", "10"))
    lines = [
        "# Production topology",
        "",
        f"Command: `.venv/bin/python bench/topology.py --seconds {args.seconds} --workers {args.workers} "
        f"--connections {args.connections} --storm {args.storm}`",
        machine_line(),
        "",
        f"### {args.workers} gunicorn workers (as 4 app servers x {args.workers // 4}) against a pool of "
        f"{size} per server",
        "",
        f"wrk, {args.connections} connections, {args.seconds}s, on the rendered category page "
        "(a new query string each time, so a page cache miss: reads from the replicas). "
        "Backends: the most client backends each PostgreSQL "
        "server had on the benchmark database during the run.",
        "",
        "| connections | requests/s | p50 ms | p99 ms | errors | server backends (peak) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for row in pool_rows:
        backends = ", ".join(f"{label} {count}" for label, count in row["backends"].items())
        lines.append(
            f"| {row['setup']} | {row['rps']:,.0f} | {row['p50']:.1f} | {row['p99']:.1f} "
            f"| {row['non_2xx'] + row['errors']} | {backends} |"
        )
    lines += [
        "",
        f"### A connection storm: {args.storm} clients connect to the primary at once",
        "",
        "Each connects (SCRAM), runs `SELECT 1` and leaves, as workers do when they all restart; then one "
        "client connects and leaves 200 times in a row (connections/s). PostgreSQL's max_connections "
        "is 200 here.",
        "",
        "| connections | served | failed | p50 ms | p99 ms | connections/s, one after another |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in storm_rows:
        p50 = f"{row['p50_ms']:.1f}" if row["p50_ms"] is not None else "-"
        p99 = f"{row['p99_ms']:.1f}" if row["p99_ms"] is not None else "-"
        failed = f"{row['failed']}" + (f" ({row['first_error']})" if row["failed"] else "")
        per_second = f"{row['connections_per_s']:,.0f}"
        lines.append(f"| {row['setup']} | {row['served']} | {failed} | {p50} | {p99} | {per_second} |")
    alone, behind = nginx["alone"], nginx["behind"]
    cost_us = (1 / behind["rps"] - 1 / alone["rps"]) * 1_000_000
    lines += [
        "",
        "### nginx in front of gunicorn (2 sync workers)",
        "",
        f"wrk, {args.connections} connections, {args.seconds}s, on the hello-world view (no database: "
        "the proxy's own cost, a figure no visitor sees alone).",
        "",
        "| path | requests/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
        f"| gunicorn alone | {alone['rps']:,.0f} | {alone['p50']:.2f} | {alone['p99']:.2f} |",
        f"| nginx -> gunicorn | {behind['rps']:,.0f} | {behind['p50']:.2f} | {behind['p99']:.2f} |",
        "",
        f"Cost of nginx: {cost_us:+.0f} µs of machine time per request ({behind['rps'] / alone['rps']:.0%} "
        "of gunicorn alone's requests/s on these 2 shared cores).",
        "",
        "Slow clients: 12 sockets sending a header line a second, never finishing, then 5 requests "
        "for /healthz, each given 3 s:",
        "",
        "| path | answered | slowest ms |",
        "|---|---:|---:|",
    ]
    for label, times in nginx["slow"].items():
        done = [took for took in times if took is not None]
        slowest = f"{max(done) * 1000:.0f}" if done else "-"
        lines.append(f"| {label} | {len(done)} of {len(times)} | {slowest} |")
    figures = {
        "pool": pool_rows,
        "storm": storm_rows,
        "nginx_cost_us": cost_us,
        "slow_clients_answered": {
            label: sum(t is not None for t in times) for label, times in nginx["slow"].items()
        },
    }
    return "\n".join(lines) + "\n", figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=32, help="gunicorn sync workers (4 x 8 by default)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--storm", type=int, default=300, help="clients connecting at once")
    args = parser.parse_args()
    env = server_environment()
    os.environ.update(env)
    if not os.environ.get("DATABASE_POOLER") or not os.environ.get("DATABASE_DIRECT_URL"):
        sys.exit("bench/topology.py compares the stack's poolers with direct connections: make stack-up")
    import django

    django.setup()  # this process reads the versions for the report
    pool_rows = workers_against_the_pool(
        env, workers=args.workers, connections=args.connections, seconds=args.seconds
    )
    storm_rows = connection_storm(env, clients=args.storm)
    nginx = nginx_in_front(env, connections=args.connections, seconds=args.seconds)
    markdown, figures = report(args, pool_rows, storm_rows, nginx)
    save_results("topology", markdown, figures)


if __name__ == "__main__":
    main()
