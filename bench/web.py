"""HTTP benchmark: pages under load from wrk, served by gunicorn (2 sync workers) on loopback.

    .venv/bin/python bench/web.py [--seconds 5] [--runs 3] [--connections 8]

Serves the benchmark database (`<name>_bench`, seeded by `make bench`) with the production
settings, and loads each page with wrk (Debian's package) on 127.0.0.1 only, bounded in time.
A hello-world view in the same server is the ceiling each page is compared with. Stops every
process it started. Writes bench/results/web.md.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR / "bench"))
sys.path.insert(0, str(BASE_DIR))

from common import bench_database_url, machine_line, replica_urls, save_results  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5, help="length of one wrk run")
    parser.add_argument("--runs", type=int, default=3, help="runs per page (median, min, max)")
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    report, figures = run(seconds=args.seconds, runs=args.runs, connections=args.connections)
    save_results("web", report, figures)


def server_environment() -> dict[str, str]:
    """Return the environment of a production-settings server on the benchmark database."""
    url = bench_database_url()
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "shopsite.settings.production",
        "DATABASE_URL": url,
        "REPLICA_DATABASE_URLS": replica_urls(url),
        "SECRET_KEY": os.environ.get("SECRET_KEY", "benchmark-only-" + "x" * 40),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback
        "TRUSTED_PROXY_COUNT": "0",  # wrk talks to gunicorn directly
        "BENCHMARK_HELLO_VIEW": "true",
        "LOG_LEVEL": "WARNING",
    }


class Gunicorn:
    """gunicorn with 2 sync workers on a free loopback port, stopped on exit."""

    def __init__(self, env: dict[str, str], workers: int = 2):
        self.env = env
        self.workers = workers

    def __enter__(self) -> str:
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
            cwd=BASE_DIR,
            env=self.env,
            check=True,
        )
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.process = subprocess.Popen(
            [str(BASE_DIR / ".venv" / "bin" / "gunicorn"), "shopsite.wsgi", "--workers", str(self.workers),
             "--bind", f"127.0.0.1:{port}", "--access-logfile", "-", "--log-level", "warning"],
            cwd=BASE_DIR, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        self.base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=2)
                return self.base
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    error = self.process.stderr.read().decode()[-2000:]
                    raise RuntimeError(f"gunicorn did not start: {error}") from None
                time.sleep(0.2)

    def __exit__(self, *exc):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def wrk(url: str, *, seconds: int, connections: int, headers: dict[str, str] | None = None) -> dict:
    """Load one URL with wrk for `seconds`; return requests/s, p50, p99 (ms) and error counts."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError("the benchmark loads loopback only")
    script = str(BASE_DIR / "bench" / "latency.lua")
    command = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        script,
    ]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True, timeout=seconds + 30
    ).stdout
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]),
        "p50": _ms(re.search(r"50%\s+([\d.]+\w+)", output)[1]),
        "p90": _ms(re.search(r"90%\s+([\d.]+\w+)", output)[1]),
        "p95": int(re.search(r"p95_us (\d+)", output)[1]) / 1000,
        "p99": _ms(re.search(r"99%\s+([\d.]+\w+)", output)[1]),
        "non_2xx": int(m[1]) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", output)) else 0,
        "errors": sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output)),
    }


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000}[unit]


def pages(env: dict[str, str]) -> list[tuple[str, str, dict[str, str]]]:
    """Return (name, path, headers) of the pages to load, picked from the benchmark database."""
    code = (
        "import django, json; django.setup()\n"
        "from django.contrib.sessions.backends.cached_db import SessionStore\n"
        "from accounts.models import User\n"
        "from catalog.models import Category, Product\n"
        "category = Category.objects.order_by('id').first()\n"
        "product = Product.objects.filter(is_active=True, category=category).order_by('id').first()\n"
        "staff = User.objects.filter(is_superuser=True).order_by('id').first()\n"
        "session = SessionStore()\n"
        "session['_auth_user_id'] = str(staff.pk) if staff else ''\n"
        "session['_auth_user_backend'] = 'django.contrib.auth.backends.ModelBackend'\n"
        "session['_auth_user_hash'] = staff.get_session_auth_hash() if staff else ''\n"
        "session.save()\n"
        "print(json.dumps([category.slug, category.facets[:1], product.slug, session.session_key]))\n"
    )
    import json

    result = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    category, facets, product, session = json.loads(result.stdout)
    facet = f"&{facets[0]}=red" if facets else ""
    # A visitor with any cookie (a cart, a login) skips the page microcache: the page is rendered.
    rendered = {"Cookie": "visitor=1"}
    return [
        ("hello world (ceiling)", "/bench/hello", {}),
        ("home", "/", {}),
        ("category list, filtered", f"/c/{category}/?sort=price{facet}", {}),
        ("product page", f"/p/{product}/", {}),
        ("category list, filtered, rendered (a cookie)", f"/c/{category}/?sort=price{facet}", rendered),
        ("product page, rendered (a cookie)", f"/p/{product}/", rendered),
        ("dashboard (staff)", "/admin/reports/dashboard/", {"Cookie": f"sessionid={session}"}),
    ]


def run(*, seconds: int, runs: int, connections: int) -> str:
    if not shutil.which("wrk"):
        sys.exit("bench/web.py needs wrk: apt-get install wrk")
    env = server_environment()
    os.environ.update(env)
    import django

    django.setup()  # this process reads the versions for the report
    rows = []
    with Gunicorn(env) as base:
        for name, path, headers in pages(env):
            check = urllib.request.Request(base + path, headers=headers)
            status = urllib.request.urlopen(check, timeout=30).status  # warms the caches too
            results = [
                wrk(base + path, seconds=seconds, connections=connections, headers=headers)
                for _ in range(runs)
            ]
            rows.append((name, path, status, results))
    ceiling = statistics.median(result["rps"] for result in rows[0][3])
    lines = [
        "# HTTP benchmark",
        "",
        f"Command: `.venv/bin/python bench/web.py --seconds {seconds} --runs {runs} "
        f"--connections {connections}`",
        machine_line(),
        "",
        f"gunicorn, 2 sync workers, production settings; wrk, 2 threads, {connections} connections, "
        f"{runs} runs of {seconds}s per page, all on loopback. Requests/s: median (min-max).",
        "",
        "wrk sends no cookie, as a new visitor: home, category and product pages then come from the "
        "page microcache (Redis, 10 s). The rendered rows send a cookie, as a visitor with a cart or a "
        "login does: their pages are rendered, with the cached parts from Redis and the rest from a "
        "replica.",
        "",
        "| page | requests/s | p50 ms | p99 ms | share of ceiling | non-2xx | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, _path, status, results in rows:
        rps = [result["rps"] for result in results]
        median = statistics.median(rps)
        p50 = statistics.median(result["p50"] for result in results)
        p99 = statistics.median(result["p99"] for result in results)
        failures = f"{sum(r['non_2xx'] for r in results)} | {sum(r['errors'] for r in results)}"
        lines.append(
            f"| {name} (HTTP {status}) | {median:,.0f} ({min(rps):,.0f}-{max(rps):,.0f}) "
            f"| {p50:.1f} | {p99:.1f} | {median / ceiling:.0%} | {failures} |"
        )
    shares = {name: statistics.median(r["rps"] for r in results) / ceiling for name, _p, _s, results in rows}
    return "\n".join(lines) + "\n", {"share_of_ceiling": shares, "ceiling_rps": ceiling}


if __name__ == "__main__":
    main()
