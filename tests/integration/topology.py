"""The production topology for tests: gunicorn (production settings, the test database through
the stack's poolers) behind nginx, on free loopback ports, with the local stack's own launchers."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
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
def served(directory: Path, *, workers: int = 2):
    """Run gunicorn with `workers` sync workers behind nginx until the block ends."""
    app_port, web_port = free_port(), free_port()
    env = web.production_environment(app_port) | {
        "DATABASE_URL": database_url_of("default"),
        "REPLICA_DATABASE_URLS": ",".join(database_url_of(alias) for alias in settings.REPLICA_ALIASES),
        "WEB_CONCURRENCY": str(workers),
        "LOG_LEVEL": "WARNING",
    }
    processes: list[subprocess.Popen] = []
    web.collect_static(env)  # the production settings' manifest storage needs it
    try:
        processes.append(web.start_gunicorn(env, app_port))
        nginx = web.Nginx(directory / "nginx", web_port, app_port, web.STATIC_ROOT)
        processes.append(nginx.start())
        yield Served(f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{app_port}", web_port, app_port)
    finally:
        web.stop_processes(processes)


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
