"""The stack's PostgreSQL servers: the primary, and streaming replicas cloned with pg_basebackup."""

from __future__ import annotations

import hashlib
import os
import pwd
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .config import BASE_DIR, HOST, PG_PORT, PG_USER, REPLICA_PORT, VAR_DIR, WAIT_SECONDS, StackError
from .processes import as_owner, check_port_free, find_binary, pg_owner, reachable_by, run

# Settings for a development server: replication on, loopback only, no Unix socket (a socket path
# under a deep checkout can exceed the 107-byte limit).
PRIMARY_CONF = """
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
wal_level = replica
max_wal_senders = 10
wal_keep_size = '1GB'
hot_standby = on
hot_standby_feedback = on
max_connections = 200
shared_buffers = '256MB'
work_mem = '16MB'
maintenance_work_mem = '256MB'
max_wal_size = '2GB'
log_line_prefix = '%m [%p] %q%u@%d %a '
# Django's time zone: a connection in another one would run SET TIME ZONE first.
timezone = 'UTC'
# Every statement's calls and time, for the database health page (read at start only).
shared_preload_libraries = 'pg_stat_statements'
# No JIT compilation: the shop's statements are short, and a refresh estimated costly spent 1.1 s
# compiling a 0.2 s aggregate (docs/DEPLOYMENT.md).
jit = off
"""
STATEMENTS_LIBRARY = "pg_stat_statements"
# The databases that get the extension: the shop's, and template1, which every database created
# later copies (test databases, the benchmark's).
STATEMENTS_DATABASES = ("template1",)


@dataclass(frozen=True)
class PgServer:
    name: str  # "primary", "replica", "replica_2", ...
    port: int
    data: Path

    @property
    def log(self) -> Path:
        return self.data.parent / f"{self.name}.log"


def pg_root(owner: pwd.struct_passwd | None, create: bool) -> Path:
    """Return the directory holding the clusters: ``var/pg``, or where ``var/pg`` points.

    Under root the servers run as ``postgres``, which cannot enter a checkout inside a private
    directory (``mktemp -d`` makes mode 0700). Then the clusters live in a directory of their own
    under /var/tmp, named after the checkout, and ``var/pg`` is a symlink to it.
    """
    link = VAR_DIR / "pg"
    if link.is_symlink() or link.exists() or not create:
        return link.resolve() if link.is_symlink() else link
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    if owner is not None and not reachable_by(owner, VAR_DIR):
        digest = hashlib.sha1(str(BASE_DIR).encode()).hexdigest()[:12]
        target = Path("/var/tmp") / f"shopsite-stack-{digest}"
        target.mkdir(mode=0o700, exist_ok=True)
        os.chown(target, owner.pw_uid, owner.pw_gid)
        link.symlink_to(target)
        return target
    link.mkdir(mode=0o700)
    if owner is not None:
        os.chown(link, owner.pw_uid, owner.pw_gid)
    return link


def servers(root: Path, replicas: int) -> list[PgServer]:
    found = [PgServer("primary", PG_PORT, root / "primary")]
    for n in range(1, replicas + 1):
        name = "replica" if n == 1 else f"replica_{n}"
        found.append(PgServer(name, REPLICA_PORT + n - 1, root / name))
    return found


def existing_replicas(root: Path) -> int:
    """Return how many replicas have a data directory (they are numbered without gaps)."""
    n = 0
    while (root / ("replica" if n == 0 else f"replica_{n + 1}") / "PG_VERSION").exists():
        n += 1
    return n


def load_password() -> str:
    """Return the database user's password, generated and kept in ``var/pg-password`` the first time."""
    path = VAR_DIR / "pg-password"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(18))
        path.chmod(0o600)
    return path.read_text().strip()


def running(bins: dict, server: PgServer, owner) -> bool:
    if not (server.data / "PG_VERSION").exists():
        return False
    result = subprocess.run(
        [bins["pg_ctl"], "status", "-D", str(server.data)],
        capture_output=True,
        **as_owner(owner),
        check=False,
    )
    return result.returncode == 0


def init_primary(bins: dict, server: PgServer, owner, password: str) -> None:
    pwfile = server.data.parent / "initdb-pw"
    pwfile.write_text(password + "\n")
    if owner is not None:
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)
    try:
        run(
            [
                bins["initdb"],
                "-D",
                str(server.data),
                "-U",
                PG_USER,
                f"--pwfile={pwfile}",
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            owner,
            what="initdb",
        )
    finally:
        pwfile.unlink(missing_ok=True)
    with open(server.data / "postgresql.conf", "a") as conf:
        conf.write(PRIMARY_CONF + f"port = {server.port}\n")


def start(bins: dict, server: PgServer, owner) -> None:
    check_port_free(server.port, f"PostgreSQL {server.name}")
    run(
        [
            bins["pg_ctl"],
            "start",
            "-D",
            str(server.data),
            "-l",
            str(server.log),
            "-w",
            "-t",
            str(WAIT_SECONDS),
            "-o",
            f"-p {server.port}",
        ],
        owner,
        what=f"starting PostgreSQL {server.name} on port {server.port} (log: {server.log})",
    )


def stop(bins: dict, server: PgServer, owner) -> None:
    run(
        [bins["pg_ctl"], "stop", "-D", str(server.data), "-m", "fast", "-w"],
        owner,
        what=f"stopping {server.name}",
    )


def psql(bins: dict, port: int, sql: str, password: str, database: str = "postgres") -> str:
    env = {**os.environ, "PGPASSWORD": password}
    result = subprocess.run(
        [bins["psql"], "-h", HOST, "-p", str(port), "-U", PG_USER, "-d", database, "-XtAc", sql],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(f"psql on port {port} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def statements_preloaded(bins: dict, server: PgServer, password: str) -> list[str]:
    """Make an existing server load pg_stat_statements at its next start (ALTER SYSTEM), unless
    it does or will already; return what changed. Never restarts it: its users may be busy."""
    running = psql(bins, server.port, "SHOW shared_preload_libraries", password)
    # What the server will load at its next start: the last line of its files that sets it.
    last_set = "SELECT setting FROM pg_file_settings WHERE name = 'shared_preload_libraries'"
    pending = psql(bins, server.port, f"{last_set} ORDER BY seqno DESC LIMIT 1", password)
    if STATEMENTS_LIBRARY in _libraries(running) or STATEMENTS_LIBRARY in _libraries(pending):
        return []
    libraries = ", ".join([*_libraries(running), STATEMENTS_LIBRARY])
    psql(bins, server.port, f"ALTER SYSTEM SET shared_preload_libraries = '{libraries}'", password)
    return [f"{server.name} loads {STATEMENTS_LIBRARY} from its next restart (make stack-down stack-up)"]


def _libraries(setting: str) -> list[str]:
    return [name.strip().strip('"') for name in setting.split(",") if name.strip()]


def statements_extension(bins: dict, primary: PgServer, password: str, databases: list[str]) -> list[str]:
    """Create the pg_stat_statements extension in each database that lacks it (the replicas get
    it by replication); return what changed."""
    changes = []
    for database in databases:
        exists = f"SELECT count(*) FROM pg_extension WHERE extname = '{STATEMENTS_LIBRARY}'"
        create = f"CREATE EXTENSION IF NOT EXISTS {STATEMENTS_LIBRARY}"
        if psql(bins, primary.port, exists, password, database) == "0":
            psql(bins, primary.port, create, password, database)
            changes.append(f"created extension {STATEMENTS_LIBRARY} in {database}")
    return changes


def init_replica(bins: dict, primary: PgServer, replica: PgServer, owner, password: str) -> None:
    env = {**os.environ, "PGPASSWORD": password}
    run(
        [
            bins["pg_basebackup"],
            "-h",
            HOST,
            "-p",
            str(primary.port),
            "-U",
            PG_USER,
            "-D",
            str(replica.data),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
        ],
        owner,
        env=env,
        what=f"pg_basebackup for {replica.name}",
    )
    # -R wrote primary_conninfo here; the port goes beside it so it wins over postgresql.conf.
    with open(replica.data / "postgresql.auto.conf", "a") as conf:
        conf.write(f"port = {replica.port}\n")


# ---------------------------------------------------------------------------------------------
# One server at a time, for the fault tests


def _server(name: str) -> tuple[dict, PgServer, pwd.struct_passwd | None]:
    owner = pg_owner()
    root = pg_root(owner, create=False)
    by_name = {server.name: server for server in servers(root, existing_replicas(root))}
    if name not in by_name:
        raise StackError(f"no PostgreSQL server named {name!r} in the stack: {', '.join(by_name)}")
    return {"pg_ctl": find_binary("pg_ctl")}, by_name[name], owner


def stop_server(name: str) -> None:
    """Stop one PostgreSQL server of the stack ("primary", "replica", ...), for fault tests."""
    bins, server, owner = _server(name)
    if running(bins, server, owner):
        stop(bins, server, owner)


def start_server(name: str) -> None:
    """Start one PostgreSQL server of the stack again and wait until it answers."""
    bins, server, owner = _server(name)
    if not running(bins, server, owner):
        start(bins, server, owner)
