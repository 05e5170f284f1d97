"""HTTP benchmark: pages under load from wrk, served by gunicorn (2 sync workers) on loopback.

    .venv/bin/python bench/web.py [--seconds 5] [--runs 3] [--connections 8]

Serves the benchmark database (`<name>_bench`, seeded by `make bench`) with the production
settings, and loads each page with wrk (Debian's package) on 127.0.0.1 only, bounded in time.
A hello-world view in the same server is the ceiling each page is compared with. Stops every
process it started. Writes bench/results/web.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
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
        "EMAIL_URL": "dummymail://",  # the checkouts' emails are rendered, and sent nowhere
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
        # Its log to a file, not a pipe: nobody reads a pipe during the run, and once 64 KB of log
        # (slow queries with their SQL, say) fill it, every worker blocks on its next line.
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [str(BASE_DIR / ".venv" / "bin" / "gunicorn"), "shopsite.wsgi", "--workers", str(self.workers),
             "--bind", f"127.0.0.1:{port}", "--access-logfile", "-", "--log-level", "warning"],
            cwd=BASE_DIR, env=self.env, stdout=subprocess.DEVNULL, stderr=self.log,
        )  # fmt: skip
        self.base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=2)
                return self.base
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.log.seek(0)
                    error = self.log.read().decode(errors="replace")[-2000:]
                    raise RuntimeError(f"gunicorn did not start: {error}") from None
                time.sleep(0.2)

    def __exit__(self, *exc):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def wrk(
    url: str,
    *,
    seconds: int,
    connections: int,
    headers: dict[str, str] | None = None,
    script: str = "latency.lua",
    threads: int = 2,
) -> dict:
    """Load one URL with wrk for `seconds`; return requests/s, p50, p99 (ms) and error counts.
    `script`: latency.lua (the same URL each time) or miss.lua (a new query string each time)."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError("the benchmark loads loopback only")
    script = str(BASE_DIR / "bench" / script)
    command = [
        "wrk",
        f"-t{threads}",
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
    return _wrk_figures(output)


def _wrk_figures(output: str) -> dict:
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


def shop_data(env: dict[str, str], visitors: int) -> dict:
    """Return what the benchmark browses and the prepared sessions (bench/shop_data.py)."""
    result = subprocess.run(
        [sys.executable, "bench/shop_data.py", str(visitors)],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    return json.loads(result.stdout)


class Browser:
    """A visitor's browser for preparing the journeys: keeps cookies, follows redirects, posts
    forms with their CSRF token. It sends the cookies production marks Secure over plain HTTP:
    a real browser reaches the shop over HTTPS; the benchmark talks to gunicorn on loopback."""

    def __init__(self, base: str, cookies: dict[str, str] | None = None):
        address = urllib.parse.urlsplit(base)
        self.host, self.port = address.hostname, address.port
        self.cookies = dict(cookies or {})
        self.token = ""

    def get(self, path: str) -> str:
        return self._request("GET", path)

    def post(self, path: str, fields: dict[str, str]) -> str:
        return self._request("POST", path, {"csrfmiddlewaretoken": self.token, **fields})

    def _request(self, method: str, path: str, fields: dict[str, str] | None = None) -> str:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        headers = {"Cookie": self.cookie_header()}
        body = None
        if fields is not None:
            body = urllib.parse.urlencode(fields)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read().decode()
        connection.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0].strip('"')
            if value:
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        if response.status in (302, 303):
            return self.get(response.headers["Location"])
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: HTTP {response.status}")
        found = re.search(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"', text)
        self.token = found[1] if found else self.token
        return text

    def cookie_header(self, *, without: tuple[str, ...] = ()) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items() if name not in without)


def visitors_file(base: str, data: dict, threads: int, directory: Path) -> Path:
    """Prepare a visitor of each kind per wrk thread, through the shop's pages, and write them
    with the shop's data as the Lua table bench/journeys.lua reads."""
    product = data["popular"][0]
    carts, signed_in, checkouts = [], [], []
    for number in range(threads):
        cart = Browser(base)  # a new visitor: a product page, then the first add gives a session
        cart.get(f"/p/{product['slug']}/")
        cart.post("/cart/add/", {"product_id": str(product["id"]), "quantity": "1"})
        carts.append(cart.cookie_header())
        for sessions, kept in ((data["signed_in"], signed_in), (data["checkouts"], checkouts)):
            browser = Browser(base, {"sessionid": sessions[number % len(sessions)]})
            browser.get(f"/p/{product['slug']}/")  # the CSRF cookie, as from any page with a form
            kept.append(browser.cookie_header())

    def lua(value) -> str:
        if isinstance(value, dict):
            return "{" + ", ".join(f"{key} = {lua(item)}" for key, item in value.items()) + "}"
        if isinstance(value, list):
            return "{" + ", ".join(lua(item) for item in value) + "}"
        return json.dumps(str(value))  # a JSON string is a Lua string for these characters

    categories = [
        {"slug": slug, "filter": f"{facet}=red" if facet else "sort=name"}
        for slug, facet in data["categories"]
    ]
    table = {
        "categories": categories,
        "products": [item["slug"] for item in data["popular"]],
        "products_with_ids": data["popular"],
        "stocked": data["stocked"],
        "carts": carts,
        "signed_in": signed_in,
        "checkouts": checkouts,
    }
    path = directory / "visitors.lua"
    path.write_text("return " + lua(table) + "\n")
    return path


def journeys(base: str, visitors: Path, *, seconds: int, threads: int) -> dict:
    """Run the journey mix with wrk, one visitor per thread; return wrk's figures and the counts."""
    command = ["wrk", f"-t{threads}", f"-c{threads}", f"-d{seconds}s", "--latency", "--timeout", "10s",
               "-s", str(BASE_DIR / "bench" / "journeys.lua"), base, "--", str(visitors)]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    figures = _wrk_figures(output)
    counts: dict[str, dict[str, int]] = {}
    for group, key, n in re.findall(r"^count (\w+) (\S+) (\d+)$", output, re.MULTILINE):
        counts.setdefault(group, {})[key] = int(n)
    figures["counts"] = counts
    return figures


JOURNEY_THREADS = 16  # visitors at once in the journey mix (one wrk connection each)


def run(*, seconds: int, runs: int, connections: int) -> tuple[str, dict]:
    if not shutil.which("wrk"):
        sys.exit("bench/web.py needs wrk: apt-get install wrk")
    env = {**server_environment(), "SERVER_TIMING": "true"}  # the journeys count cache hits by it
    os.environ.update(env)
    import django

    django.setup()  # this process reads the versions for the report
    rows = []
    with Gunicorn(env) as base, tempfile.TemporaryDirectory() as directory:
        data = shop_data(env, JOURNEY_THREADS)
        pages = page_rows(base, data)
        for name, path, headers, script in pages:
            check = urllib.request.Request(base + path, headers=headers)
            status = urllib.request.urlopen(check, timeout=30).status  # warms the caches too
            results = [
                wrk(base + path, seconds=seconds, connections=connections, headers=headers, script=script)
                for _ in range(runs)
            ]
            rows.append((name, path, status, results))
        visitors = visitors_file(base, data, JOURNEY_THREADS, Path(directory))
        ceiling_16, mix = [], []
        for _ in range(runs):  # A B A B: the ceiling at the same concurrency, in the same minutes
            hello = wrk(
                base + "/bench/hello", seconds=seconds, connections=JOURNEY_THREADS, threads=JOURNEY_THREADS
            )
            ceiling_16.append(hello)
            mix.append(journeys(base, visitors, seconds=seconds * 2, threads=JOURNEY_THREADS))
    ceiling = statistics.median(result["rps"] for result in rows[0][3])
    return report(seconds, runs, connections, rows, ceiling, ceiling_16, mix)


def catalog_paths(data: dict) -> tuple[str, str]:
    """Return the paths of the category page (filtered, sorted) and the product page measured."""
    category, facet = data["categories"][0]
    return f"/c/{category}/?sort=price" + (f"&{facet}=red" if facet else ""), f"/p/{data['first_product']}/"


def page_rows(base: str, data: dict) -> list[tuple[str, str, dict[str, str], str]]:
    """Return (name, path, headers, wrk script) of each page measured alone."""
    category_path, product_path = catalog_paths(data)
    first = Browser(base)  # a browser after its first page with a form: only the CSRF cookie
    first.get(product_path)
    customer = Browser(base, {"sessionid": data["signed_in"][-1]})
    customer.get(product_path)
    customer.post("/cart/add/", {"product_id": str(data["popular"][0]["id"]), "quantity": "2"})
    csrf = {"Cookie": first.cookie_header()}
    # As once a replica has replayed the cart's write: the read-your-writes cookie is gone.
    signed_in = {"Cookie": customer.cookie_header(without=("shopsite_rw",))}
    rows = [("hello world (ceiling)", "/bench/hello", {}, "latency.lua")]
    for page, path in (
        ("home", "/"),
        ("category list, filtered", category_path),
        ("product page", product_path),
    ):
        rows += [
            (f"{page}, no cookie (a first request)", path, {}, "latency.lua"),
            (f"{page}, cache hit, CSRF cookie", path, csrf, "latency.lua"),
            (f"{page}, cache hit, signed in with a cart", path, signed_in, "latency.lua"),
            (f"{page}, rendered (cache miss), CSRF cookie", path, csrf, "miss.lua"),
        ]
    rows.append(
        (
            "dashboard (staff)",
            "/admin/reports/dashboard/",
            {"Cookie": f"sessionid={data['staff_session']}"},
            "latency.lua",
        )
    )
    return rows


def report(seconds, runs, connections, rows, ceiling, ceiling_16, mix) -> tuple[str, dict]:
    mix_rps = statistics.median(result["rps"] for result in mix)
    hello_16 = statistics.median(result["rps"] for result in ceiling_16)
    counts = _summed([result["counts"] for result in mix])
    lines = [
        "# HTTP benchmark",
        "",
        f"Command: `.venv/bin/python bench/web.py --seconds {seconds} --runs {runs} "
        f"--connections {connections}`",
        machine_line(),
        "",
        "gunicorn, 2 sync workers, production settings (with Server-Timing on, which the journeys read "
        "cache hits from); wrk on loopback. Requests/s: median (min-max) of the runs.",
        "",
        "## The journey mix",
        "",
        f"Browser-like visitors, {JOURNEY_THREADS} at once, one wrk connection each (bench/journeys.lua): "
        "each keeps its cookies, follows redirects and posts the forms it got. Journeys: 70% browsing "
        "(a new visitor: home, a category, a filter, two products, a sort; the CSRF cookie from the "
        "first product page), 20% browsing with a cart (a filter, a product, add it, the cart, a product, "
        "a category, remove it), 8% signed in (the browsing above, then the order history), 2% checking "
        "out (a product, add it, the checkout, place the order, the order page). "
        f"{runs} runs of {seconds * 2}s, each after a run of hello world at the same concurrency.",
        "",
        "| load | requests/s | p50 ms | p99 ms | share of hello world | non-2xx/3xx | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
        _row(f"hello world, {JOURNEY_THREADS} connections", ceiling_16, hello_16),
        _row(f"journey mix, {JOURNEY_THREADS} visitors", mix, hello_16),
        "",
        "What the visitors did, all runs (a hit: the page from the page cache):",
        "",
        "| page | requests | page cache hits | misses |",
        "|---|---:|---:|---:|",
    ]
    for kind, n in sorted(counts.get("requests", {}).items(), key=lambda item: -item[1]):
        hits, misses = counts.get("hits", {}).get(kind, 0), counts.get("misses", {}).get(kind, 0)
        lines.append(f"| {kind} | {n:,} | {hits:,} | {misses:,} |")
    journeys_run = ", ".join(f"{name} {n:,}" for name, n in sorted(counts.get("journeys", {}).items()))
    statuses = ", ".join(f"{status}: {n:,}" for status, n in sorted(counts.get("statuses", {}).items()))
    lines += [
        "",
        f"Journeys begun: {journeys_run}. Statuses: {statuses}.",
        "",
        "## Each page alone",
        "",
        f'wrk, 2 threads, {connections} connections, {runs} runs of {seconds}s per page. "No cookie" is '
        'a first request, which no browser repeats: it is kept to compare with earlier runs. "CSRF '
        'cookie" is a browser after its first page with a form; "signed in with a cart" sends a '
        'login\'s session holding a cart. A "rendered" row asks a new query string each time (a key '
        "the page ignores), so every request renders the page and stores it: the cost of a cache miss.",
        "",
        "| page | requests/s | p50 ms | p99 ms | share of ceiling | non-2xx | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, _path, status, results in rows:
        lines.append(_row(f"{name} (HTTP {status})", results, ceiling))
    shares = {name: statistics.median(r["rps"] for r in results) / ceiling for name, _p, _s, results in rows}
    figures = {
        "share_of_ceiling": shares,
        "ceiling_rps": ceiling,
        "journeys": {
            "rps": mix_rps,
            "share_of_ceiling": mix_rps / hello_16,
            "p50_ms": statistics.median(result["p50"] for result in mix),
            "p99_ms": statistics.median(result["p99"] for result in mix),
            "threads": JOURNEY_THREADS,
            "counts": counts,
        },
    }
    return "\n".join(lines) + "\n", figures


def _row(name: str, results: list[dict], ceiling: float) -> str:
    rps = [result["rps"] for result in results]
    median = statistics.median(rps)
    p50 = statistics.median(result["p50"] for result in results)
    p99 = statistics.median(result["p99"] for result in results)
    failures = f"{sum(r['non_2xx'] for r in results)} | {sum(r['errors'] for r in results)}"
    return (
        f"| {name} | {median:,.0f} ({min(rps):,.0f}-{max(rps):,.0f}) | {p50:.1f} | {p99:.1f} "
        f"| {median / ceiling:.0%} | {failures} |"
    )


def _summed(all_counts: list[dict]) -> dict:
    total: dict[str, dict[str, int]] = {}
    for counts in all_counts:
        for group, values in counts.items():
            for key, n in values.items():
                total.setdefault(group, {})[key] = total.setdefault(group, {}).get(key, 0) + n
    return total


if __name__ == "__main__":
    main()
