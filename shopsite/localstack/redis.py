"""The stack's Redis: no persistence, loopback only, its pid file and log under ``var/redis``."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

from .config import HOST, REDIS_PORT, VAR_DIR, StackError
from .processes import check_port_free, find_binary, run, wait


def redis_dir() -> Path:
    return VAR_DIR / "redis"


def pid() -> int | None:
    """Return the pid of the stack's running redis-server, from its pid file, or None."""
    pidfile = redis_dir() / "redis.pid"
    try:
        number = int(pidfile.read_text().strip())
        os.kill(number, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return number


def ping(port: int = REDIS_PORT, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def start(bins: dict) -> None:
    check_port_free(REDIS_PORT, "redis-server")
    redis_dir().mkdir(parents=True, exist_ok=True)
    run(
        [
            bins["redis-server"],
            "--port",
            str(REDIS_PORT),
            "--bind",
            HOST,
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "yes",
            "--pidfile",
            str(redis_dir() / "redis.pid"),
            "--logfile",
            str(redis_dir() / "redis.log"),
            "--dir",
            str(redis_dir()),
        ],
        what=f"starting redis-server on port {REDIS_PORT}",
    )
    if not wait(lambda: ping()):
        raise StackError(f"redis-server did not answer on port {REDIS_PORT}: see {redis_dir() / 'redis.log'}")


def stop_redis() -> None:
    """Stop the stack's Redis (the process in its pid file, nothing else), for fault tests."""
    running = pid()
    if running is None:
        return
    os.kill(running, signal.SIGTERM)
    if not wait(lambda: pid() is None, 10):
        raise StackError(f"redis-server (pid {running}) did not stop")


def start_redis() -> None:
    """Start the stack's Redis again as `up` does, and wait until it answers PING."""
    if pid() is not None and ping():
        return
    redis_server = find_binary("redis-server")
    if redis_server is None:
        raise StackError("missing redis-server: run 'make stack-up' first")
    start({"redis-server": redis_server})
