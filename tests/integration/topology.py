"""The production topology for tests: gunicorn (production settings, the test database through
the stack's poolers) behind nginx, on free loopback ports, with the local stack's own launchers."""

from __future__ import annotations

import contextlib
import http.client
import re
import socket
import subprocess
import threading
import time
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connections

from shopsite.localstack import web


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url_of(alias: str) -> str:
    db = connections[alias].settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@dataclass
class Served:
    site: str  # through nginx
    app: str  # gunicorn itself
    web_port: int
    app_port: int


@contextmanager
def served(directory: Path, *, workers: int = 2, server: str = "wsgi", extra: dict[str, str] | None = None):
    """Run gunicorn with `workers` workers behind nginx until the block ends: sync workers and
    shopsite.wsgi, or with `server="asgi"` uvicorn's workers and shopsite.asgi."""
    app_port, web_port = free_port(), free_port()
    env = (
        web.production_environment(app_port)
        | {
            "DATABASE_URL": database_url_of("default"),
            "REPLICA_DATABASE_URLS": ",".join(database_url_of(alias) for alias in settings.REPLICA_ALIASES),
            "WEB_CONCURRENCY": str(workers),
            "WEB_SERVER": server,
            # The test run's own Redis database, flushed before each test (tests/conftest.py).
            "REDIS_URL": settings.CACHES["default"]["LOCATION"],
            "LOG_LEVEL": "WARNING",
        }
        | (extra or {})
    )
    processes: list[subprocess.Popen] = []
    web.collect_static(env)  # the production settings' manifest storage needs it
    try:
        processes.append(web.start_gunicorn(env, app_port))
        nginx = web.Nginx(directory / "nginx", web_port, app_port, web.STATIC_ROOT)
        processes.append(nginx.start())
        yield Served(f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{app_port}", web_port, app_port)
    finally:
        web.stop_processes(processes)


class Visitor:
    """A browser for tests against a served site: keeps its cookies, follows redirects, posts
    forms with the CSRF token of the last page that had one. Plain HTTP on loopback: it sends the
    cookies production marks Secure, as a browser does over HTTPS."""

    def __init__(self, base: str):
        address = urllib.parse.urlsplit(base)
        self.host, self.port = address.hostname, address.port
        self.cookies: dict[str, str] = {}
        self.token = ""
        self.status = 0
        self.headers: dict[str, str] = {}  # names in lower case

    def get(self, path: str) -> str:
        return self.request("GET", path)

    def post(self, path: str, fields: dict[str, str]) -> str:
        return self.request("POST", path, {"csrfmiddlewaretoken": self.token, **fields})

    def request(self, method: str, path: str, fields: dict[str, str] | None = None) -> str:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        headers = {"Cookie": "; ".join(f"{name}={value}" for name, value in self.cookies.items())}
        if path.startswith("/admin/") or method == "POST":
            headers["Referer"] = f"http://{self.host}:{self.port}{path}"  # Django's CSRF check for admin
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
        self.status = response.status
        self.headers = {name.lower(): value for name, value in response.headers.items()}
        if response.status in (302, 303):
            return self.get(response.headers["Location"])
        found = re.search(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"', text)
        self.token = found[1] if found else self.token
        return text


@contextmanager
def slow_clients(port: int, count: int, *, every: float = 1.0, longest: float = 15.0):
    """`count` loopback sockets that each send a request's header a line every `every` seconds
    and never finish it (slowloris), for at most `longest` seconds or until the block ends."""
    sockets, stop = [], threading.Event()
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        sockets.append(sock)

    def trickle():
        deadline = time.monotonic() + longest
        n = 0
        while not stop.wait(every) and time.monotonic() < deadline:
            n += 1
            for sock in sockets:
                # A socket the server closed: what a server should do to such a client.
                with contextlib.suppress(OSError):
                    sock.sendall(f"X-Slow-{n}: 1\r\n".encode())

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        for sock in sockets:
            sock.close()
