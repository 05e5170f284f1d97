"""The production topology on real engines: nginx in front of gunicorn's sync workers holds off
slow clients, and a PgBouncer restarted under traffic is survived without restarting gunicorn."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from django.conf import settings

from shopsite import localstack
from tests.integration.faults import RequestLog, poll, primary_wait
from tests.integration.test_faults import MARGIN
from tests.integration.topology import free_port, served, slow_clients

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True, databases="__all__")]


@pytest.fixture(scope="module")
def site(tmp_path_factory, django_db_setup):
    # After django_db_setup: gunicorn is given the test database's name, which that creates.
    with served(tmp_path_factory.mktemp("topology"), workers=2) as running:
        yield running


class Response:
    def __init__(self, status: int, headers: dict, body: bytes):
        self.status_code, self.headers, self.body = status, headers, body

    def __getitem__(self, name):
        return self.headers[name]


def get(url: str, timeout: float = 10) -> Response:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return Response(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, dict(error.headers), error.read())


def answered(url: str, timeout: float) -> bool:
    try:
        get(url, timeout=timeout)
    except OSError:  # timed out
        return False
    return True


def test_nginx_serves_the_shop_with_forwarded_headers_gzip_and_a_size_limit(site):
    page = urllib.request.Request(site.site + "/", headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(page, timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Encoding"] == "gzip"
        assert response.headers["Server"] == "nginx"  # no version: server_tokens off
    html = get(site.site + "/").body.decode()
    stylesheet = re.search(r'href="(/static/[^"]+\.[0-9a-f]{12}\.css)"', html)[1]
    static = get(site.site + stylesheet)
    assert static.status_code == 200
    assert static["Cache-Control"] == "public, max-age=31536000, immutable"  # by nginx, from disk
    too_big = urllib.request.Request(site.site + "/cart/", data=b"x" * (11 * 1024 * 1024), method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(too_big, timeout=10)
    assert refused.value.code == 413  # refused by nginx, never read by a worker


def test_slow_clients_hold_gunicorn_alone_but_not_the_site_behind_nginx(site):
    # The proof the test can fail: twelve slow sockets take both sync workers of gunicorn alone.
    with slow_clients(site.app_port, 12, longest=8):
        time.sleep(0.5)  # let both workers pick up a slow client (a bound, not a wait for a result)
        assert not answered(site.app + "/healthz", timeout=3)

    # Through nginx: two hundred of them, and every other visitor is still served at once.
    log = RequestLog("200 slow clients through nginx")
    with slow_clients(site.web_port, 200, longest=12):
        for _ in range(10):
            log.timed("home", lambda: get(site.site + "/"))
            log.timed("healthz", lambda: get(site.site + "/healthz"))

    print(f"\n{log.summary()}")
    assert not log.failed, log.failed
    assert log.slowest.seconds < MARGIN, log.summary()


@pytest.mark.skipif(settings.DATABASE_POOLER != "pgbouncer", reason="the stack runs without its poolers")
def test_a_pooler_restarted_under_traffic_is_survived_without_restarting_gunicorn(site):
    log = RequestLog("the primary's pooler restarted")
    stop = threading.Event()
    poll(lambda: get(site.site + "/healthz").status_code == 200, timeout=20, what="site up")

    def visitor():
        while not stop.is_set():
            # /healthz asks the primary, through the pooler being restarted.
            log.timed("healthz", lambda: get(site.site + "/healthz"), expect=(200, 503))

    visitors = [threading.Thread(target=visitor) for _ in range(3)]
    for thread in visitors:
        thread.start()
    try:
        poll(lambda: len(log.requests) >= 6, timeout=20, what="traffic")
        localstack.stop_pooler("primary")
        poll(lambda: any(entry.status == 503 for entry in log.requests), timeout=20, what="the outage seen")
        localstack.start_pooler("primary")
        seen = len(log.requests)
        poll(
            lambda: any(entry.status == 200 for entry in log.requests[seen:]), timeout=30, what="served again"
        )
    finally:
        localstack.start_pooler("primary")
        stop.set()
        for thread in visitors:
            thread.join(timeout=30)

    print(f"\n{log.summary()}")
    assert not log.failed, log.failed
    assert log.slowest.seconds < primary_wait() + MARGIN, log.summary()


def test_serve_runs_nginx_and_gunicorn_until_stopped_and_stops_both(tmp_path):
    """`make serve`'s command itself: it prints its URL, serves through nginx, and a SIGTERM
    stops nginx and gunicorn both."""
    web_port, app_port = free_port(), free_port()
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("PYTEST", "DJANGO_SETTINGS"))
    }
    env |= {"STACK_WEB_PORT": str(web_port), "STACK_APP_PORT": str(app_port), "WEB_CONCURRENCY": "1"}
    serve = subprocess.Popen(
        [sys.executable, "-m", "shopsite.localstack", "serve"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        lines = []
        deadline = time.monotonic() + 60
        while not any("serving http://" in line for line in lines):
            assert serve.poll() is None, lines
            assert time.monotonic() < deadline, lines
            lines.append(serve.stdout.readline())
        assert f"serving http://127.0.0.1:{web_port}/" in lines[-1]
        health = get(f"http://127.0.0.1:{web_port}/healthz")
        assert health.status_code == 200
        assert health["Server"] == "nginx"
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=40)

    assert "nginx and gunicorn stopped" in serve.stdout.read()
    for port in (web_port, app_port):
        with pytest.raises(ConnectionRefusedError):  # nothing listens any more
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
