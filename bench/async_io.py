"""Async I/O against its sync twin: GET /live/stock under ASGI (the event loop, asyncpg's pool)
and under WSGI (sync workers, Django's connections), at 8, 64 and 256 connections, on loopback
and with 5 ms and 20 ms of network latency in front of the replicas' poolers.

    .venv/bin/python bench/async_io.py [--seconds 4] [--runs 3] [--latencies 0,5,20] [--connections 8,64,256]

The endpoint (shopsite.live) reads 24 products' stock and price, a category page's worth, with
one query where the router says: a replica. Both twins run the same query on the same route and
answer the same bytes; each is gunicorn with 2 workers from shopsite/deploy/gunicorn.conf.py,
production settings, on the benchmark database through the stack's PgBouncers. What differs is
the I/O: a sync worker holds one request while it waits for the database; an ASGI worker keeps
up to ASYNC_POOL_SIZE queries per replica in flight.

The latency is bench/delay_proxy.py on loopback, in front of each replica's pooler, for both twins
alike (this kernel has no `netem`): every byte arrives half a round trip late, each way. The
client is wrk on loopback. A figure with errors or non-2xx answers says so in its row.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR / "bench"))
sys.path.insert(0, str(BASE_DIR))

from common import machine_line, save_results  # noqa: E402
from web import server_environment, shop_data, wrk  # noqa: E402

SERVERS = {"wsgi": "sync twin (WSGI, 2 sync workers)", "asgi": "async (ASGI, 2 uvicorn workers)"}
CONFIG = BASE_DIR / "shopsite" / "deploy" / "gunicorn.conf.py"
DASHBOARD = "/admin/reports/dashboard/"
# The cold dashboard under each server, and under ASGI with its blocks read one by one too: what
# the concurrent reads change, apart from what ASGI changes.
DASHBOARD_WARM_UP = 12
DASHBOARD_SERVERS = {
    "wsgi": ("wsgi", "true"),
    "asgi, one by one": ("asgi", "false"),
    "asgi": ("asgi", "true"),
}
ASYNC_POOL_SIZE = 20  # per replica and worker: 2 workers x 2 replicas x 20 = 80 queries in flight


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=4, help="length of one wrk run")
    parser.add_argument("--runs", type=int, default=3, help="runs per cell, the twins taking turns")
    parser.add_argument("--latencies", default="0,5,20", help="round trips added to the replicas, ms")
    parser.add_argument("--connections", default="8,64,256")
    args = parser.parse_args()
    latencies = [int(value) for value in args.latencies.split(",")]
    connections = [int(value) for value in args.connections.split(",")]
    report, figures = run(seconds=args.seconds, runs=args.runs, latencies=latencies, connections=connections)
    save_results("async_io", report, figures)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url, timeout=5)
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.2)  # a poll interval, bounded by the deadline


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def delayed(urls: list[str], rtt_ms: int) -> tuple[list[str], list[subprocess.Popen]]:
    """Start a delay proxy in front of each URL's server; return the URLs through them."""
    through, proxies = [], []
    for url in urls:
        address = urllib.parse.urlsplit(url)
        port = free_port()
        proxy = str(BASE_DIR / "bench" / "delay_proxy.py")
        to = f"{address.hostname}:{address.port}"
        command = [
            sys.executable,
            proxy,
            "--listen",
            f"127.0.0.1:{port}",
            "--to",
            to,
            "--rtt-ms",
            str(rtt_ms),
        ]
        proxies.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))
        through.append(url.replace(f"@{address.hostname}:{address.port}/", f"@127.0.0.1:{port}/"))
    for port in (urllib.parse.urlsplit(url).port for url in through):
        deadline = time.monotonic() + 10
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            if time.monotonic() > deadline:
                raise RuntimeError("a delay proxy did not start")
            time.sleep(0.05)
    return through, proxies


def median_run(results: list[dict]) -> dict:
    """Return the run with the median requests/s (its own p50 and p99 with it)."""
    return sorted(results, key=lambda result: result["rps"])[len(results) // 2]


def drained(url: str, rtt_ms: int, idle: float | None = None) -> float:
    """Wait until a request is answered in about the time an idle server takes (`idle` seconds,
    measured here when None): wrk stops sending, but a sync server still owes the requests queued
    in its listen backlog, and the next row must not be measured behind them. Bounded: 60 s."""

    def timed() -> float:
        started = time.monotonic()
        urllib.request.urlopen(url, timeout=60).read()
        return time.monotonic() - started

    deadline = time.monotonic() + 60
    while True:
        took = timed()
        if idle is None:
            return min(took, timed(), timed())
        if took <= 3 * idle + rtt_ms / 1000 or time.monotonic() > deadline:
            return idle


def serve(env: dict[str, str], server: str) -> tuple[str, subprocess.Popen]:
    port = free_port()
    env = env | {"WEB_SERVER": server, "WEB_CONCURRENCY": "2", "GUNICORN_BIND": f"127.0.0.1:{port}"}
    process = subprocess.Popen(
        [str(BASE_DIR / ".venv" / "bin" / "gunicorn"), "-c", str(CONFIG)],
        cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    wait_for(base + "/healthz", process, f"gunicorn ({server})")
    return base, process


def run(*, seconds: int, runs: int, latencies: list[int], connections: list[int]) -> tuple[str, dict]:
    env = server_environment() | {"SERVER_TIMING": "false", "ASYNC_POOL_SIZE": str(ASYNC_POOL_SIZE)}
    os.environ.update(env)
    import django

    django.setup()
    data = shop_data(env, 0)
    ids = ",".join(str(item["id"]) for item in data["popular"][:24])
    path = f"/live/stock?ids={ids}"
    replicas = [url for url in env["REPLICA_DATABASE_URLS"].split(",") if url]
    rows = []
    for rtt in latencies:
        urls, proxies = delayed(replicas, rtt) if rtt else (replicas, [])
        servers = {}
        try:
            for server in SERVERS:
                servers[server] = serve(env | {"REPLICA_DATABASE_URLS": ",".join(urls)}, server)
            idle = {}
            for server, (base, _) in servers.items():
                wrk(base + path, seconds=2, connections=min(connections))  # warm: pools, plans
                idle[server] = drained(base + path, rtt)
            for count in sorted(connections):
                results = {server: [] for server in servers}
                for _ in range(runs):  # A B A B: both twins in the same minutes
                    for server, (base, _) in servers.items():
                        results[server].append(wrk(base + path, seconds=seconds, connections=count))
                        drained(base + path, rtt, idle[server])
                for server, measured in results.items():
                    rows.append((rtt, server, count, median_run(measured)))
        finally:
            for _, process in servers.values():
                stop(process)
            for proxy in proxies:
                stop(proxy)
    dashboard = cold_dashboards(env, data, latencies, runs * 3)
    return report(seconds, runs, latencies, connections, rows, dashboard)


def cold_dashboards(env: dict[str, str], data: dict, latencies: list[int], requests: int) -> dict:
    """Time the staff dashboard, cold (its namespace bumped before each request), one request at a
    time, under each server: under WSGI its blocks read one after another, under ASGI at once over
    the pools. The latency is added in front of every server here (the primary's pooler too): the
    WSGI dashboard reads its blocks on the primary, as admin pages do, the ASGI one on a replica."""
    from shopsite.caching.versioned import namespace_bump

    servers_urls = [env["DATABASE_URL"], *(url for url in env["REPLICA_DATABASE_URLS"].split(",") if url)]
    cookie = {"Cookie": f"sessionid={data['staff_session']}"}
    timed: dict[tuple[int, str], float] = {}
    for rtt in latencies:
        urls, proxies = delayed(servers_urls, rtt) if rtt else (servers_urls, [])
        through = env | {"DATABASE_URL": urls[0], "REPLICA_DATABASE_URLS": ",".join(urls[1:])}
        servers = {}
        try:
            for name, (server, concurrent) in DASHBOARD_SERVERS.items():
                servers[name] = serve(through | {"DASHBOARD_CONCURRENT_READS": concurrent}, server)
            times = {server: [] for server in servers}
            # The first requests of each: a warm-up, until every worker's pools hold a connection
            # per block for each replica (one is picked per request).
            for n in range(DASHBOARD_WARM_UP + requests):
                for server, (base, _) in servers.items():
                    namespace_bump("dashboard")
                    started = time.monotonic()
                    with urllib.request.urlopen(
                        urllib.request.Request(base + DASHBOARD, headers=cookie), timeout=60
                    ):
                        pass
                    if n >= DASHBOARD_WARM_UP:
                        times[server].append((time.monotonic() - started) * 1000)
            for server, measured in times.items():
                timed[(rtt, server)] = statistics.median(measured)
        finally:
            for _, process in servers.values():
                stop(process)
            for proxy in proxies:
                stop(proxy)
    return {"requests": requests, "ms": timed}


def report(seconds, runs, latencies, connections, rows, dashboard) -> tuple[str, dict]:
    by = {(rtt, server, count): result for rtt, server, count, result in rows}
    lines = [
        "## 8. Async I/O against its sync twin",
        "",
        f"Command: `.venv/bin/python bench/async_io.py --seconds {seconds} --runs {runs}`",
        machine_line(),
        "",
        "`GET /live/stock` with 24 products' ids (one query on a replica, through its PgBouncer):",
        "the same query, route and bytes from the sync twin (gunicorn, 2 sync workers, WSGI, Django's",
        "connections) and the async path (gunicorn, 2 uvicorn workers, ASGI, asyncpg's pool of",
        f"{ASYNC_POOL_SIZE} per replica and worker). Added latency: bench/delay_proxy.py in front of each",
        f"replica's pooler, for both alike. wrk on loopback, 2 threads; {runs} runs of {seconds}s per cell,",
        "the twins taking turns (A B A B), each run after the server has drained its queue; the run",
        "with the median requests/s is shown. Requests/s; p50 and p99 in ms.",
        "",
        "| database round trip | connections | sync rps | sync p50 | sync p99 | async rps | async p50 "
        "| async p99 | async / sync | errors (sync, async) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    figures = {"cells": []}
    for rtt in latencies:
        for count in connections:
            sync, fast = by[(rtt, "wsgi", count)], by[(rtt, "asgi", count)]
            ratio = fast["rps"] / sync["rps"] if sync["rps"] else None  # None: the sync twin answered none
            errors = f"{sync['errors'] + sync['non_2xx']}, {fast['errors'] + fast['non_2xx']}"
            where = "loopback" if not rtt else f"+{rtt} ms"
            lines.append(
                f"| {where} | {count} | {sync['rps']:,.0f} | {sync['p50']:.1f} "
                f"| {sync['p99']:.1f} | {fast['rps']:,.0f} | {fast['p50']:.1f} | {fast['p99']:.1f} "
                f"| {'sync: none answered' if ratio is None else f'{ratio:.2f}x'} | {errors} |"
            )
            figures["cells"].append(
                {"rtt_ms": rtt, "connections": count, "sync": sync, "async": fast, "ratio": ratio}
            )
    lines += [
        "",
        "### A cold dashboard",
        "",
        "The staff dashboard with every block rebuilt (its cache namespace bumped before each",
        f"request), one request at a time, median of {dashboard['requests']} per server, client-side ms.",
        "Under WSGI its blocks read one after another, on the primary as admin pages do; under ASGI",
        "all at once over the async pools, on a replica that has replayed the primary's WAL position",
        "(or one by one, `DASHBOARD_CONCURRENT_READS=false`). Here the added latency is in front of",
        "every server's pooler. Under ASGI Django runs each request's sync code in a thread of its own,",
        "whose connections no later request reuses: each request connects to the poolers again.",
        "",
        "| database round trip | WSGI, blocks one by one | ASGI, blocks one by one | ASGI, blocks at once |",
        "|---|---:|---:|---:|",
    ]
    figures["dashboard"] = []
    for rtt in latencies:
        wsgi, asgi_one, asgi_once = (dashboard["ms"][(rtt, name)] for name in DASHBOARD_SERVERS)
        where = "loopback" if not rtt else f"+{rtt} ms"
        lines.append(f"| {where} | {wsgi:,.1f} ms | {asgi_one:,.1f} ms | {asgi_once:,.1f} ms |")
        figures["dashboard"].append(
            {"rtt_ms": rtt, "wsgi_ms": wsgi, "asgi_one_by_one_ms": asgi_one, "asgi_at_once_ms": asgi_once}
        )
    lines += [
        "",
        "Under WSGI a worker is busy for the whole round trip, so the sync twin's requests/s is about",
        "2 workers / (round trips per request x latency) whatever the connections; the async workers",
        "keep up to their pools' size of queries waiting at once, until the CPU (shared with wrk, the",
        'poolers, the proxies and PostgreSQL on this machine) is the limit. See docs/SCALING.md, "When',
        'async pays".',
        "",
    ]
    return "\n".join(lines), figures


if __name__ == "__main__":
    main()
