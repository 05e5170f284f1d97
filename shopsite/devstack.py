"""The local stack: a PostgreSQL primary, its streaming replica(s) and Redis under ``var/``.

    python -m shopsite.devstack up [--replicas N]   create what is missing, start what is stopped
    python -m shopsite.devstack down                stop exactly the servers this stack started
    python -m shopsite.devstack status              say what runs where (exit 3 if anything is down)
    python -m shopsite.devstack env                 print ``export ...`` lines for a shell to eval
    python -m shopsite.devstack destroy             stop and delete every server's data

Standard library only, so it runs before the virtualenv exists. Ports are loopback-only and not the
standard ones (override with STACK_PG_PORT, STACK_REPLICA_PORT, STACK_REDIS_PORT). When the
effective user is root the PostgreSQL servers run as Debian's ``postgres`` user, which
PostgreSQL requires. When DATABASE_URL is already set, ``up`` starts nothing: those servers are used.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("STACK_DIR", BASE_DIR / "var"))
PG_USER = "shopsite"
PG_DATABASE = "shopsite"
HOST = "127.0.0.1"
PG_PORT = int(os.environ.get("STACK_PG_PORT", "55432"))
REPLICA_PORT = int(os.environ.get("STACK_REPLICA_PORT", "55433"))  # replica N listens on +N-1
REDIS_PORT = int(os.environ.get("STACK_REDIS_PORT", "56379"))
ENV_FILE = VAR_DIR / "stack.env"
WAIT_SECONDS = 30

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
log_line_prefix = '%m [%p] %q%u@%d '
"""


class StackError(Exception):
    """A problem the operator must fix; printed without a traceback."""


# ---------------------------------------------------------------------------------------------
# Where things live and who runs them


@dataclass(frozen=True)
class PgServer:
    name: str  # "primary", "replica", "replica_2", ...
    port: int
    data: Path

    @property
    def log(self) -> Path:
        return self.data.parent / f"{self.name}.log"


def _pg_owner() -> pwd.struct_passwd | None:
    """Return the user PostgreSQL runs as when we are root, or None to run as ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise StackError(
            "running as root, and PostgreSQL refuses to run as root, but there is no 'postgres' "
            "user: install Debian's postgresql package or run as an ordinary user"
        ) from None


def _as_owner(owner: pwd.struct_passwd | None) -> dict:
    if owner is None:
        return {}
    # cwd "/": the postgres user may not be allowed into the caller's working directory.
    return {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": [], "cwd": "/"}


def _pg_root(owner: pwd.struct_passwd | None, create: bool) -> Path:
    """Return the directory holding the clusters: ``var/pg``, or where ``var/pg`` points.

    Under root the servers run as ``postgres``, which cannot enter a checkout inside a private
    directory (``mktemp -d`` makes mode 0700). Then the clusters live in a directory of their own
    under /var/tmp, named after the checkout, and ``var/pg`` is a symlink to it.
    """
    link = VAR_DIR / "pg"
    if link.is_symlink() or link.exists() or not create:
        return link.resolve() if link.is_symlink() else link
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    if owner is not None and not _reachable_by(owner, VAR_DIR):
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


def _reachable_by(owner: pwd.struct_passwd, path: Path) -> bool:
    result = subprocess.run(["test", "-x", str(path)], **_as_owner(owner), check=False)
    return result.returncode == 0


def _servers(pg_root: Path, replicas: int) -> list[PgServer]:
    servers = [PgServer("primary", PG_PORT, pg_root / "primary")]
    for n in range(1, replicas + 1):
        name = "replica" if n == 1 else f"replica_{n}"
        servers.append(PgServer(name, REPLICA_PORT + n - 1, pg_root / name))
    return servers


def _existing_replicas(pg_root: Path) -> int:
    """Return how many replicas have a data directory (they are numbered without gaps)."""
    n = 0
    while (pg_root / ("replica" if n == 0 else f"replica_{n + 1}") / "PG_VERSION").exists():
        n += 1
    return n


# ---------------------------------------------------------------------------------------------
# Binaries


def _find_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    # Debian keeps the server binaries out of PATH; prefer the newest major version.
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return candidates[-1] if candidates else None


def _binaries() -> dict[str, str]:
    names = ["initdb", "pg_ctl", "pg_basebackup", "psql", "redis-server"]
    found = {name: _find_binary(name) for name in names}
    missing = [name for name, path in found.items() if path is None]
    if missing and os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"devstack: installing Debian's postgresql and redis-server (missing: {', '.join(missing)})")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "postgresql", "postgresql-client", "redis-server"],
            check=True,
            env=env,
        )
        found = {name: _find_binary(name) for name in names}
        missing = [name for name, path in found.items() if path is None]
    if missing:
        raise StackError(
            f"missing {', '.join(missing)}: install PostgreSQL >= 14 (Debian: postgresql) and "
            "Redis (Debian: redis-server), or set DATABASE_URL, REPLICA_DATABASE_URLS and "
            "REDIS_URL to servers you already run"
        )
    # Server binaries of one major version: pg_basebackup must match the server it copies.
    pg_bin = Path(found["pg_ctl"]).resolve().parent
    for name in ("initdb", "pg_basebackup"):
        same_version = pg_bin / name
        if same_version.exists():
            found[name] = str(same_version)
    found["pg_ctl"] = str(pg_bin / "pg_ctl") if (pg_bin / "pg_ctl").exists() else found["pg_ctl"]
    return found


# ---------------------------------------------------------------------------------------------
# PostgreSQL


def _password() -> str:
    path = VAR_DIR / "pg-password"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(18))
        path.chmod(0o600)
    return path.read_text().strip()


def _pg_running(bins: dict, server: PgServer, owner) -> bool:
    if not (server.data / "PG_VERSION").exists():
        return False
    result = subprocess.run(
        [bins["pg_ctl"], "status", "-D", str(server.data)],
        capture_output=True,
        **_as_owner(owner),
        check=False,
    )
    return result.returncode == 0


def _run(cmd: list[str], owner=None, env: dict | None = None, what: str = "") -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, **_as_owner(owner), check=False)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        raise StackError(f"{what or cmd[0]} failed:\n{output}")


def _init_primary(bins: dict, server: PgServer, owner, password: str) -> None:
    pwfile = server.data.parent / "initdb-pw"
    pwfile.write_text(password + "\n")
    if owner is not None:
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)
    try:
        _run(
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


def _port_taken(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def _bindable(port: int) -> bool:
    """Whether a server could listen on the port now (both servers set SO_REUSEADDR too)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def _check_port_free(port: int, what: str, wait: float = 70) -> None:
    if _port_taken(port):
        raise StackError(
            f"port {port} for {what} is taken by another process (another checkout's stack?): "
            "stop it, or choose other ports with STACK_PG_PORT, STACK_REPLICA_PORT, STACK_REDIS_PORT"
        )
    # The stack's ports lie in the kernel's range for outgoing connections: a client connection
    # that just closed may hold one for up to a minute (TIME_WAIT). Wait that out.
    deadline = time.monotonic() + wait
    if not _bindable(port):
        print(f"devstack: port {port} for {what} is held by a closing connection: waiting up to {wait:.0f}s")
    while not _bindable(port):
        if time.monotonic() > deadline:
            raise StackError(
                f"port {port} for {what} stayed in use for {wait:.0f}s though nothing listens on it: "
                "choose other ports with STACK_PG_PORT, STACK_REPLICA_PORT, STACK_REDIS_PORT"
            )
        time.sleep(0.5)


def _start_pg(bins: dict, server: PgServer, owner) -> None:
    _check_port_free(server.port, f"PostgreSQL {server.name}")
    _run(
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


def _psql(bins: dict, port: int, sql: str, password: str, database: str = "postgres") -> str:
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


def _init_replica(bins: dict, primary: PgServer, replica: PgServer, owner, password: str) -> None:
    env = {**os.environ, "PGPASSWORD": password}
    _run(
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
# Redis


def _redis_dir() -> Path:
    return VAR_DIR / "redis"


def _redis_pid() -> int | None:
    pidfile = _redis_dir() / "redis.pid"
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid


def _redis_ping(port: int = REDIS_PORT, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _start_redis(bins: dict) -> None:
    _check_port_free(REDIS_PORT, "redis-server")
    _redis_dir().mkdir(parents=True, exist_ok=True)
    _run(
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
            str(_redis_dir() / "redis.pid"),
            "--logfile",
            str(_redis_dir() / "redis.log"),
            "--dir",
            str(_redis_dir()),
        ],
        what=f"starting redis-server on port {REDIS_PORT}",
    )
    if not _wait(lambda: _redis_ping()):
        raise StackError(
            f"redis-server did not answer on port {REDIS_PORT}: see {_redis_dir() / 'redis.log'}"
        )


def _wait(check, seconds: float = WAIT_SECONDS) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


# ---------------------------------------------------------------------------------------------
# Commands


def urls(replicas: int | None = None) -> dict[str, str]:
    """Return the connection URLs of the local stack."""
    password = _password()
    pg_root = _pg_root(None, create=False)
    count = _existing_replicas(pg_root) if replicas is None else replicas
    db = f"postgres://{PG_USER}:{password}@{HOST}:{{port}}/{PG_DATABASE}"
    return {
        "DATABASE_URL": db.format(port=PG_PORT),
        "REPLICA_DATABASE_URLS": ",".join(
            db.format(port=server.port) for server in _servers(pg_root, count)[1:]
        ),
        "REDIS_URL": f"redis://{HOST}:{REDIS_PORT}/0",
    }


def _write_env_file(values: dict[str, str]) -> None:
    ENV_FILE.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    ENV_FILE.chmod(0o600)  # it holds the database password


def up(replicas: int) -> None:
    if os.environ.get("DATABASE_URL"):
        print("devstack: DATABASE_URL is set; using those servers and starting nothing")
        return
    started = time.monotonic()
    bins = _binaries()
    owner = _pg_owner()
    password = _password()
    pg_root = _pg_root(owner, create=True)
    replicas = max(replicas, _existing_replicas(pg_root))
    primary, *replica_servers = _servers(pg_root, replicas)
    changes = []

    if not (primary.data / "PG_VERSION").exists():
        _init_primary(bins, primary, owner, password)
        changes.append("initialised primary")
    if not _pg_running(bins, primary, owner):
        _start_pg(bins, primary, owner)
        changes.append(f"started primary on {primary.port}")
    if (
        _psql(bins, primary.port, f"SELECT 1 FROM pg_database WHERE datname = '{PG_DATABASE}'", password)
        != "1"
    ):
        _psql(bins, primary.port, f"CREATE DATABASE {PG_DATABASE}", password)
        changes.append(f"created database {PG_DATABASE}")

    for replica in replica_servers:
        if not (replica.data / "PG_VERSION").exists():
            _init_replica(bins, primary, replica, owner, password)
            changes.append(f"cloned {replica.name} from the primary")
        if not _pg_running(bins, replica, owner):
            _start_pg(bins, replica, owner)
            changes.append(f"started {replica.name} on {replica.port}")
        if _psql(bins, replica.port, "SELECT pg_is_in_recovery()", password) != "t":
            raise StackError(f"{replica.name} on port {replica.port} is not in recovery")

    if _redis_pid() is None or not _redis_ping():
        _start_redis(bins)
        changes.append(f"started redis on {REDIS_PORT}")

    _write_env_file(urls(len(replica_servers)))
    took = time.monotonic() - started
    summary = "; ".join(changes) if changes else "already running, nothing changed"
    print(f"devstack: {summary} ({took:.1f}s)")
    print(f"devstack: settings written to {ENV_FILE}")


def _server(name: str) -> tuple[dict, PgServer, pwd.struct_passwd | None]:
    owner = _pg_owner()
    pg_root = _pg_root(owner, create=False)
    servers = {server.name: server for server in _servers(pg_root, _existing_replicas(pg_root))}
    if name not in servers:
        raise StackError(f"no PostgreSQL server named {name!r} in the stack: {', '.join(servers)}")
    return {"pg_ctl": _find_binary("pg_ctl")}, servers[name], owner


def stop_server(name: str) -> None:
    """Stop one PostgreSQL server of the stack ("primary", "replica", ...), for fault tests."""
    bins, server, owner = _server(name)
    if _pg_running(bins, server, owner):
        _run(
            [bins["pg_ctl"], "stop", "-D", str(server.data), "-m", "fast", "-w"],
            owner,
            what=f"stopping {name}",
        )


def start_server(name: str) -> None:
    """Start one PostgreSQL server of the stack again and wait until it answers."""
    bins, server, owner = _server(name)
    if not _pg_running(bins, server, owner):
        _start_pg(bins, server, owner)


def stop_redis() -> None:
    """Stop the stack's Redis (the process in its pid file, nothing else), for fault tests."""
    pid = _redis_pid()
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    if not _wait(lambda: _redis_pid() is None, 10):
        raise StackError(f"redis-server (pid {pid}) did not stop")


def start_redis() -> None:
    """Start the stack's Redis again as `up` does, and wait until it answers PING."""
    if _redis_pid() is not None and _redis_ping():
        return
    redis_server = _find_binary("redis-server")
    if redis_server is None:
        raise StackError("missing redis-server: run 'make stack-up' first")
    _start_redis({"redis-server": redis_server})


def down() -> None:
    owner = _pg_owner()
    pg_root = _pg_root(owner, create=False)
    bins = {"pg_ctl": _find_binary("pg_ctl")}
    stopped = []
    # Replicas first, so none of them logs a lost primary on the way down.
    for server in reversed(_servers(pg_root, _existing_replicas(pg_root))):
        if bins["pg_ctl"] and _pg_running(bins, server, owner):
            _run(
                [bins["pg_ctl"], "stop", "-D", str(server.data), "-m", "fast", "-w"],
                owner,
                what=f"stopping {server.name}",
            )
            stopped.append(server.name)
    if _redis_pid() is not None:
        stop_redis()
        stopped.append("redis")
    print(f"devstack: stopped {', '.join(stopped)}" if stopped else "devstack: nothing was running")


def status() -> int:
    owner = _pg_owner()
    pg_root = _pg_root(owner, create=False)
    pg_ctl = _find_binary("pg_ctl")
    all_up = True
    for server in _servers(pg_root, _existing_replicas(pg_root)):
        running = bool(pg_ctl) and _pg_running({"pg_ctl": pg_ctl}, server, owner)
        all_up &= running
        print(
            f"{server.name:<10} postgres  {HOST}:{server.port}  {'up' if running else 'down'}  {server.data}"
        )
    redis_up = _redis_pid() is not None and _redis_ping()
    all_up &= redis_up
    print(f"{'redis':<10} redis     {HOST}:{REDIS_PORT}  {'up' if redis_up else 'down'}  {_redis_dir()}")
    return 0 if all_up else 3


def env() -> None:
    if not ENV_FILE.exists():
        raise StackError("the stack has not been started: run 'make stack-up' first")
    for line in ENV_FILE.read_text().splitlines():
        key, value = line.split("=", 1)
        print(f"export {key}='{value}'")


def destroy() -> None:
    down()
    pg_root = _pg_root(None, create=False)
    link = VAR_DIR / "pg"
    if link.is_symlink():
        shutil.rmtree(pg_root, ignore_errors=True)
        link.unlink()
    else:
        shutil.rmtree(link, ignore_errors=True)
    for leftover in (_redis_dir(), ENV_FILE, VAR_DIR / "pg-password"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
    print("devstack: deleted the stack's data")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shopsite.devstack", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up_parser = sub.add_parser("up", help="create and start the stack (idempotent)")
    up_parser.add_argument(
        "--replicas",
        type=int,
        default=int(os.environ.get("STACK_REPLICAS", "1")),
        help="number of streaming replicas (default 1, or STACK_REPLICAS)",
    )
    sub.add_parser("down", help="stop the servers this stack started")
    sub.add_parser("status", help="show what runs; exit 3 if anything is down")
    sub.add_parser("env", help="print export lines for the shell")
    sub.add_parser("destroy", help="stop the stack and delete its data")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            up(args.replicas)
        elif args.command == "down":
            down()
        elif args.command == "status":
            return status()
        elif args.command == "env":
            env()
        elif args.command == "destroy":
            destroy()
    except StackError as error:
        print(f"devstack: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
