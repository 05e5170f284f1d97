"""The stack's Redis: no persistence, loopback only, its pid file and log under ``var/redis``.

A cache, so it is bounded like the production one (README, docs/SCALING.md): at most
``STACK_REDIS_MAXMEMORY`` (256mb), evicting the least recently used keys of any kind when full
(``allkeys-lru``). Namespace versions may be evicted too: a missing version starts at a value no
version ever had (shopsite/caching/versioned.py), so an eviction only costs cache misses.
"""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

from .config import HOST, REDIS_PORT, VAR_DIR, StackError
from .processes import check_port_free, find_binary, run, wait

MAXMEMORY = os.environ.get("STACK_REDIS_MAXMEMORY", "256mb")
MAXMEMORY_POLICY = "allkeys-lru"


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


def command(*args: str, port: int = REDIS_PORT, timeout: float = 2.0) -> bytes:
    """Send one command to the stack's Redis and return its raw reply (RESP), e.g. b"+OK\\r\\n"."""
    request = f"*{len(args)}\r\n".encode() + b"".join(
        f"${len(arg.encode())}\r\n".encode() + arg.encode() + b"\r\n" for arg in args
    )
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(request)
        return sock.recv(4096)


def bound_memory() -> None:
    """Give a Redis started before the limit existed the stack's memory limit and eviction policy."""
    for name, value in (("maxmemory", MAXMEMORY), ("maxmemory-policy", MAXMEMORY_POLICY)):
        reply = command("CONFIG", "SET", name, value)
        if not reply.startswith(b"+OK"):
            raise StackError(f"redis-server refused {name} {value}: {reply.decode(errors='replace').strip()}")


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
            "--maxmemory",
            MAXMEMORY,
            "--maxmemory-policy",
            MAXMEMORY_POLICY,
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


def pause_redis() -> int:
    """Freeze the stack's Redis (SIGSTOP): it keeps its port and its data and answers nothing, as
    a hung server does, until resume_redis(). Return its pid. For fault tests."""
    running = pid()
    if running is None:
        raise StackError("redis-server is not running: nothing to pause")
    os.kill(running, signal.SIGSTOP)
    return running


def resume_redis() -> None:
    """Let a paused Redis run again (SIGCONT) and wait until it answers PING."""
    running = pid()
    if running is not None:
        os.kill(running, signal.SIGCONT)
    if not wait(lambda: ping()):
        raise StackError(f"redis-server did not answer on port {REDIS_PORT} after it was resumed")


def start_redis() -> None:
    """Start the stack's Redis again as `up` does, and wait until it answers PING."""
    if pid() is not None and ping():
        return
    redis_server = find_binary("redis-server")
    if redis_server is None:
        raise StackError("missing redis-server: run 'make stack-up' first")
    start({"redis-server": redis_server})
