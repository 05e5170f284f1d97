"""Search benchmark: requests/s and latency of /search/ at 100,000 products, under wrk.

    .venv/bin/python bench/search.py [--products 100000] [--seconds 5] [--runs 3] [--connections 8]

A database of its own (`<name>_bench_search`, created here, seeded with the demo catalog once and
kept while it has that many products): the shared benchmark database has 2,000 products at its
default scale, and adding 98,000 there would change what every other scenario measures (category
pages, the journey mix). gunicorn with 2 sync workers and the production settings serves it, as in
bench/web.py; wrk loads 127.0.0.1 only, bounded in time. Each search is measured three ways:
- a page cache hit (the same address each time: one Redis round trip);
- rendered, its summary cached (a new ignored key each time: the page of results is read);
- nothing cached (a new price bound each time, above every price: the summary and the page are
  both read, the search's full cost).
Writes bench/results/search.md.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR / "bench"))
sys.path.insert(0, str(BASE_DIR))

from common import bench_database_url, machine_line, replica_urls, save_results  # noqa: E402

# (what it shows, what is typed): a realistic mix of what customers type into a shop's search box.
SEARCHES = [
    ("a word", "sneaker"),
    ("two words", "lumen ultrabook"),
    ("a typo (two letters swapped)", "ultarbook"),
    ("a partial word", "headph"),
]
WAYS = [
    ("page cache hit", "latency.lua"),
    ("rendered, summary cached", "miss.lua"),
    ("nothing cached", "search_cold.lua"),
]
REPLAY_WAIT_SECONDS = 120


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=5, help="length of one wrk run")
    parser.add_argument("--runs", type=int, default=3, help="runs per search and way (median, min, max)")
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    url = search_database(args.products)
    report, figures = run(
        url, products=args.products, seconds=args.seconds, runs=args.runs, connections=args.connections
    )
    save_results("search", report, figures)


def search_database(products: int) -> str:
    """Return the URL of the search benchmark's database, holding the demo catalog at `products`."""
    url = bench_database_url(os.environ.get("BENCH_DATABASE_SUFFIX", "_bench") + "_search")
    replicas = replica_urls(url)
    os.environ.update(
        {"DATABASE_URL": url, "REPLICA_DATABASE_URLS": "", "DEBUG": "false"}  # no query log in memory
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopsite.settings.local")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from catalog.demo import catalog_reset, catalog_seed
    from catalog.models import Product

    call_command("migrate", verbosity=0)
    if Product.objects.count() != products:
        started = time.monotonic()
        print(f"bench/search.py: seeding {products:,} products ...", flush=True)
        with transaction.atomic():
            catalog_reset()
            catalog_seed(rng=random.Random(1), categories=12, products=products, now=datetime.now(UTC))
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE catalog_product")
        print(f"bench/search.py: seeded in {time.monotonic() - started:.0f}s", flush=True)
    _wait_for_replicas(replicas, products)
    return url


def _wait_for_replicas(urls: str, products: int) -> None:
    """Wait until every replica of the database has the products (they replay the seed's WAL)."""
    import psycopg2

    deadline = time.monotonic() + REPLAY_WAIT_SECONDS
    for url in filter(None, urls.split(",")):
        while True:
            replica = psycopg2.connect(url)
            try:
                with replica.cursor() as cursor:
                    cursor.execute("SELECT count(*) FROM catalog_product")
                    replayed = cursor.fetchone()[0] == products
            finally:
                replica.close()
            if replayed:
                break
            if time.monotonic() > deadline:
                sys.exit(f"bench/search.py: a replica had not replayed the seed after {REPLAY_WAIT_SECONDS}s")
            time.sleep(0.5)


def run(url: str, *, products: int, seconds: int, runs: int, connections: int) -> tuple[str, dict]:
    from web import Gunicorn, server_environment, wrk

    env = {**server_environment(), "DATABASE_URL": url, "REPLICA_DATABASE_URLS": replica_urls(url)}
    rows = []
    with Gunicorn(env) as base:
        hello = [wrk(base + "/bench/hello", seconds=seconds, connections=connections) for _ in range(runs)]
        for name, typed in SEARCHES:
            path = "/search/?" + urllib.parse.urlencode({"q": typed})
            page = _first_page(base + path)  # and warms the caches
            found = int(re.search(r"([\d,]+) products?<", page)[1].replace(",", ""))
            for way, script in WAYS:
                results = [
                    wrk(base + path, seconds=seconds, connections=connections, script=script)
                    for _ in range(runs)
                ]
                rows.append((name, typed, found, way, results))
    return report(products, seconds, runs, connections, hello, rows)


def _first_page(url: str) -> str:
    """Return the page at `url`, waiting up to REPLAY_WAIT_SECONDS for the site to answer it (a
    replica may still be replaying the seed's VACUUM, whose lock holds its reads)."""
    deadline = time.monotonic() + REPLAY_WAIT_SECONDS
    while True:
        try:
            return urllib.request.urlopen(url, timeout=30).read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def report(products, seconds, runs, connections, hello, rows) -> tuple[str, dict]:
    ceiling = statistics.median(result["rps"] for result in hello)
    lines = [
        "# Search benchmark",
        "",
        f"Command: `.venv/bin/python bench/search.py --products {products} --seconds {seconds} "
        f"--runs {runs} --connections {connections}`",
        machine_line(),
        "",
        f"The demo catalog at {products:,} products in 12 categories, in a database of its own; gunicorn, "
        f"2 sync workers, production settings; wrk on loopback, 2 threads, {connections} connections, "
        f"{runs} runs of {seconds}s per row. Requests/s: median (min-max) of the runs. A hit is the page "
        'from the page cache; "rendered, summary cached" reads the page of results (one query); '
        '"nothing cached" reads the summary (count, categories: one query over the matches found '
        "once) and the page, each request with a price bound no other request used. Hello world, the "
        f"ceiling: {ceiling:,.0f} requests/s.",
        "",
        "| search | typed | results | cache | requests/s | p50 ms | p99 ms | non-2xx | errors |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    figures: dict = {"products": products, "ceiling_rps": ceiling, "searches": {}}
    for name, typed, found, way, results in rows:
        rps = [result["rps"] for result in results]
        p50 = statistics.median(result["p50"] for result in results)
        p99 = statistics.median(result["p99"] for result in results)
        failures = f"{sum(r['non_2xx'] for r in results)} | {sum(r['errors'] for r in results)}"
        lines.append(
            f"| {name} | `{typed}` | {found:,} | {way} | {statistics.median(rps):,.0f} "
            f"({min(rps):,.0f}-{max(rps):,.0f}) | {p50:.1f} | {p99:.1f} | {failures} |"
        )
        figures["searches"].setdefault(name, {"typed": typed, "results": found})[way] = {
            "rps": statistics.median(rps),
            "p50_ms": p50,
            "p99_ms": p99,
            "non_2xx": sum(r["non_2xx"] for r in results),
            "errors": sum(r["errors"] for r in results),
        }
    return "\n".join(lines) + "\n", figures


if __name__ == "__main__":
    main()
