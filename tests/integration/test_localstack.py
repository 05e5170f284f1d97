"""The local stack started by `make test` is idempotent and reports itself."""

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings

from shopsite import localstack

STACK_ENV = localstack.urls() if localstack.ENV_FILE.exists() else {}

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        STACK_ENV.get("DATABASE_URL") != os.environ.get("DATABASE_URL"),
        reason="the suite runs against servers given in DATABASE_URL, not the local stack",
    ),
]


def _localstack(*args: str, **extra: str) -> subprocess.CompletedProcess:
    env = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REPLICA_DATABASE_URLS", "REDIS_URL"}
    } | extra
    return subprocess.run(
        [sys.executable, "-m", "shopsite.localstack", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(settings.BASE_DIR),
        timeout=60,
        check=False,
    )


def test_second_up_changes_nothing():
    result = _localstack("up")

    assert result.returncode == 0, result.stderr
    assert "already running, nothing changed" in result.stdout


def test_status_says_every_server_is_up():
    result = _localstack("status")

    assert result.returncode == 0, result.stdout
    servers = 1 + len(settings.REPLICA_ALIASES)
    poolers = servers if settings.DATABASE_POOLER else 0
    assert result.stdout.count(" up ") == servers + poolers + 1  # and Redis
    assert result.stdout.count(" pgbouncer ") == poolers


def test_env_prints_export_lines_a_shell_can_eval():
    result = _localstack("env")
    exported = subprocess.run(
        ["bash", "-c", f'{result.stdout}\nprintf \'%s\\n\' "$DATABASE_URL" "$REDIS_URL"'],
        capture_output=True,
        text=True,
        env={},
        check=True,
    ).stdout.split()

    assert exported == [STACK_ENV["DATABASE_URL"], STACK_ENV["REDIS_URL"]]


def _held_port() -> socket.socket:
    """Return a socket that holds a free loopback port without listening, as a closing
    connection in TIME_WAIT does."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    return holder


def test_a_port_held_by_a_closing_connection_is_waited_for():
    holder = _held_port()
    port = holder.getsockname()[1]
    threading.Timer(1.0, holder.close).start()
    started = time.monotonic()

    localstack.check_port_free(port, "a test server", wait=10)

    assert 0.9 < time.monotonic() - started < 5


def test_a_port_held_too_long_is_a_clear_error():
    holder = _held_port()
    port = holder.getsockname()[1]
    try:
        with pytest.raises(
            localstack.StackError, match=f"port {port} for a test server stayed in use for 1s"
        ):
            localstack.check_port_free(port, "a test server", wait=1)
    finally:
        holder.close()


def _pooler_config(url: str) -> dict[str, str]:
    import psycopg2

    console = psycopg2.connect(url)
    console.autocommit = True  # the admin console knows no transactions
    try:
        with console.cursor() as cursor:
            cursor.execute("SHOW CONFIG")
            return {row[0]: row[1] for row in cursor.fetchall()}
    finally:
        console.close()


@pytest.mark.skipif(not settings.DATABASE_POOLER, reason="the stack runs without its poolers")
def test_up_with_another_pool_reloads_every_pooler_without_restarting_it():
    before = [_pooler_config(url) for url in settings.POOLER_ADMIN_URLS]
    try:
        result = _localstack("up", POOL_SIZE="7", POOL_TIMEOUT="4")

        assert result.returncode == 0, result.stderr
        assert result.stdout.count("reloaded pgbouncer") == len(settings.POOLER_ADMIN_URLS)
        # SIGHUP is asynchronous: the pooler reads its file again on its next loop.
        deadline = time.monotonic() + 10
        while not all(_pooler_config(url)["default_pool_size"] == "7" for url in settings.POOLER_ADMIN_URLS):
            assert time.monotonic() < deadline, "the poolers did not take the new pool size"
            time.sleep(0.05)
        assert _pooler_config(settings.POOLER_ADMIN_URLS[0])["query_wait_timeout"] == "4"
    finally:
        restored = _localstack("up")
    assert restored.returncode == 0, restored.stderr
    deadline = time.monotonic() + 10
    while [_pooler_config(url)["default_pool_size"] for url in settings.POOLER_ADMIN_URLS] != [
        config["default_pool_size"] for config in before
    ]:
        assert time.monotonic() < deadline, "the poolers did not take their pool size back"
        time.sleep(0.05)
