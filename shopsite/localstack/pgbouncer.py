"""The stack's PgBouncers: one per PostgreSQL server, transaction pooling, on ports of their own.

The configuration is ``shopsite/deploy/pgbouncer.ini`` rendered with the values below, which come
from the environment with the seeds' QueuePool defaults (pool 20, overflow 10, wait 5 s, recycle
3600 s, pre-ping on; a replica's pooler waits 2 s: a replica is skipped rather than waited for).
Each pooler's files live beside the PostgreSQL clusters (``var/pg``), which the ``postgres`` user
can enter: PgBouncer refuses to run as root, so under root it runs as that user, like PostgreSQL.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from string import Template

from . import postgres
from .config import BASE_DIR, HOST, PG_USER, POOLER_PORT, StackError
from .processes import as_owner, check_port_free, find_binary, pg_owner, port_taken, wait

TEMPLATE = BASE_DIR / "shopsite" / "deploy" / "pgbouncer.ini"
# Open files: two per client (its socket and a server's), and 200 clients are tested.
OPEN_FILES = 8192


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip() or str(default)
    if not value.isdigit():
        raise StackError(f"{name} is {value!r}: a whole number is needed")
    return int(value)


def settings() -> dict[str, int | bool]:
    """The pool and timeout settings, from the environment (the same names Django reads)."""
    return {
        "POOL_SIZE": _env_int("POOL_SIZE", 20),
        "POOL_OVERFLOW": _env_int("POOL_OVERFLOW", 10),
        "POOL_OVERFLOW_WAIT": _env_int("POOL_OVERFLOW_WAIT", 1),
        "POOL_TIMEOUT": _env_int("POOL_TIMEOUT", 5),
        "REPLICA_POOL_TIMEOUT": _env_int("REPLICA_POOL_TIMEOUT", 2),
        "POOL_RECYCLE": _env_int("POOL_RECYCLE", 3600),
        "POOL_PRE_PING": os.environ.get("POOL_PRE_PING", "1").strip().lower() not in {"0", "false", "off"},
        "POOLER_MAX_CLIENT_CONN": _env_int("POOLER_MAX_CLIENT_CONN", 2000),
        "DATABASE_CONNECT_TIMEOUT": _env_int("DATABASE_CONNECT_TIMEOUT", 3),
        "DATABASE_STATEMENT_TIMEOUT_MS": _env_int("DATABASE_STATEMENT_TIMEOUT_MS", 5000),
        "DATABASE_LOCK_TIMEOUT_MS": _env_int("DATABASE_LOCK_TIMEOUT_MS", 3000),
        "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS": _env_int("DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS", 10000),
    }


@dataclass(frozen=True)
class Pooler:
    name: str  # the PostgreSQL server it pools: "primary", "replica", ...
    port: int
    server_port: int
    directory: Path

    @property
    def ini(self) -> Path:
        return self.directory / "pgbouncer.ini"

    @property
    def pidfile(self) -> Path:
        return self.directory / "pgbouncer.pid"

    @property
    def log(self) -> Path:
        return self.directory / "pgbouncer.log"


def poolers(pg_root: Path, servers) -> list[Pooler]:
    """One pooler per PostgreSQL server: the primary's on POOLER_PORT, replica N's on +N."""
    return [
        Pooler(server.name, POOLER_PORT + n, server.port, pg_root / f"pgbouncer-{server.name}")
        for n, server in enumerate(servers)
    ]


def render(pooler: Pooler, values: dict | None = None) -> str:
    values = values or settings()
    connect_query = (
        f"SET statement_timeout = {values['DATABASE_STATEMENT_TIMEOUT_MS']}; "
        f"SET lock_timeout = {values['DATABASE_LOCK_TIMEOUT_MS']}; "
        f"SET idle_in_transaction_session_timeout = {values['DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS']}"
    )
    return Template(TEMPLATE.read_text()).substitute(
        server_host=HOST,
        server_port=pooler.server_port,
        connect_query=connect_query,
        listen_host=HOST,
        listen_port=pooler.port,
        pidfile=pooler.pidfile,
        logfile=pooler.log,
        auth_file=pooler.directory / "userlist.txt",
        admin_user=PG_USER,
        pool_size=values["POOL_SIZE"],
        pool_overflow=values["POOL_OVERFLOW"],
        pool_overflow_wait=values["POOL_OVERFLOW_WAIT"],
        # A replica is skipped rather than waited for (shopsite.db.replicas); the primary waited for.
        pool_timeout=values["POOL_TIMEOUT"] if pooler.name == "primary" else values["REPLICA_POOL_TIMEOUT"],
        pool_recycle=values["POOL_RECYCLE"],
        server_check_query="select 1" if values["POOL_PRE_PING"] else "",
        connect_timeout=values["DATABASE_CONNECT_TIMEOUT"],
        max_client_conn=values["POOLER_MAX_CLIENT_CONN"],
    )


def pid(pooler: Pooler) -> int | None:
    try:
        number = int(pooler.pidfile.read_text().strip())
        os.kill(number, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return number


def answers(pooler: Pooler) -> bool:
    return port_taken(pooler.port)


def _write(path: Path, text: str, owner, mode: int = 0o600) -> bool:
    """Write a file the pooler's user can read; return whether its content changed."""
    if path.exists() and path.read_text() == text:
        return False
    path.write_text(text)
    path.chmod(mode)
    if owner is not None:
        os.chown(path, owner.pw_uid, owner.pw_gid)
    return True


def configure(pooler: Pooler, owner, password: str) -> bool:
    """Write the pooler's configuration and user list; return whether either changed."""
    pooler.directory.mkdir(mode=0o700, exist_ok=True)
    if owner is not None:
        os.chown(pooler.directory, owner.pw_uid, owner.pw_gid)
    users = _write(pooler.directory / "userlist.txt", f'"{PG_USER}" "{password}"\n', owner)
    return _write(pooler.ini, render(pooler), owner) or users


def _raise_open_files() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = OPEN_FILES if hard == resource.RLIM_INFINITY else min(OPEN_FILES, hard)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def start(binary: str, pooler: Pooler, owner) -> None:
    check_port_free(pooler.port, f"PgBouncer for {pooler.name}")
    result = subprocess.run(
        [binary, "-d", "-q", str(pooler.ini)],
        capture_output=True,
        text=True,
        preexec_fn=_raise_open_files,  # only a setrlimit between fork and exec
        **as_owner(owner),
        check=False,
    )
    if result.returncode != 0 or not wait(lambda: pid(pooler) is not None and answers(pooler), 10):
        output = (result.stdout + result.stderr).strip()
        raise StackError(
            f"PgBouncer for {pooler.name} did not start on port {pooler.port} "
            f"(log: {pooler.log}){': ' + output if output else ''}"
        )


def reload(pooler: Pooler) -> None:
    """Make a running pooler read its configuration again (pool sizes, timeouts)."""
    running = pid(pooler)
    if running is not None:
        os.kill(running, signal.SIGHUP)


def stop(pooler: Pooler) -> None:
    """Stop at once (SIGTERM): clients are disconnected, as when a pooler host dies."""
    running = pid(pooler)
    if running is None:
        return
    os.kill(running, signal.SIGTERM)
    if not wait(lambda: pid(pooler) is None and not answers(pooler), 10):
        raise StackError(f"PgBouncer for {pooler.name} (pid {running}) did not stop")


# ---------------------------------------------------------------------------------------------
# One pooler at a time, for the fault tests


def _pooler(name: str) -> tuple[Pooler, object]:
    owner = pg_owner()
    root = postgres.pg_root(owner, create=False)
    found = {p.name: p for p in poolers(root, postgres.servers(root, postgres.existing_replicas(root)))}
    if name not in found:
        raise StackError(f"no PgBouncer for a server named {name!r} in the stack: {', '.join(found)}")
    return found[name], owner


def stop_pooler(name: str) -> None:
    """Stop the PgBouncer in front of one server ("primary", "replica", ...), for fault tests."""
    stop(_pooler(name)[0])


def start_pooler(name: str) -> None:
    """Start that PgBouncer again with its configuration as written, and wait until it answers."""
    pooler, owner = _pooler(name)
    if pid(pooler) is None:
        binary = find_binary("pgbouncer")
        if binary is None:
            raise StackError("missing pgbouncer: run 'make stack-up' first")
        start(binary, pooler, owner)
