"""The stack as a whole: the binaries it needs, and the commands up, down, status, env, destroy."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from . import pgbouncer, postgres, redis
from .config import (
    ENV_FILE,
    HOST,
    PG_DATABASE,
    PG_USER,
    POOLING,
    REDIS_PORT,
    VAR_DIR,
    StackError,
    write_env_file,
)
from .processes import find_binary, pg_owner


def binaries() -> dict[str, str]:
    names = ["initdb", "pg_ctl", "pg_basebackup", "psql", "redis-server", "pgbouncer", "nginx"]
    found = {name: find_binary(name) for name in names}
    missing = [name for name, path in found.items() if path is None]
    if missing and os.geteuid() == 0 and shutil.which("apt-get"):
        print(
            "localstack: installing Debian's postgresql, redis-server, pgbouncer and nginx "
            f"(missing: {', '.join(missing)})"
        )
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(
            [
                *("apt-get", "install", "-y", "-qq", "postgresql", "postgresql-client"),
                *("redis-server", "pgbouncer", "nginx"),
            ],
            check=True,
            env=env,
        )
        found = {name: find_binary(name) for name in names}
        missing = [name for name, path in found.items() if path is None]
    if missing:
        raise StackError(
            f"missing {', '.join(missing)}: install PostgreSQL >= 14 (Debian: postgresql), Redis "
            "(redis-server), PgBouncer (pgbouncer) and nginx, or set DATABASE_URL, "
            "REPLICA_DATABASE_URLS and REDIS_URL to servers you already run"
        )
    # Server binaries of one major version: pg_basebackup must match the server it copies.
    pg_bin = Path(found["pg_ctl"]).resolve().parent
    for name in ("initdb", "pg_basebackup"):
        same_version = pg_bin / name
        if same_version.exists():
            found[name] = str(same_version)
    found["pg_ctl"] = str(pg_bin / "pg_ctl") if (pg_bin / "pg_ctl").exists() else found["pg_ctl"]
    return found


def urls(replicas: int | None = None) -> dict[str, str]:
    """Return the settings Django needs for the local stack: URLs through the poolers (the default
    path), the direct URLs beside them (for what needs a session), and the pool settings."""
    password = postgres.load_password()
    pg_root = postgres.pg_root(None, create=False)
    count = postgres.existing_replicas(pg_root) if replicas is None else replicas
    db = f"postgres://{PG_USER}:{password}@{HOST}:{{port}}/{PG_DATABASE}"
    servers = postgres.servers(pg_root, count)
    direct = [db.format(port=server.port) for server in servers]
    pooled = [db.format(port=pooler.port) for pooler in pgbouncer.poolers(pg_root, servers)]
    chosen = pooled if POOLING else direct
    values = {
        "DATABASE_URL": chosen[0],
        "REPLICA_DATABASE_URLS": ",".join(chosen[1:]),
        "DATABASE_DIRECT_URL": direct[0],
        "REPLICA_DIRECT_URLS": ",".join(direct[1:]),
        "DATABASE_POOLER": "pgbouncer" if POOLING else "",
        "REDIS_URL": f"redis://{HOST}:{REDIS_PORT}/0",
    }
    if POOLING:
        values["POOLER_ADMIN_URLS"] = ",".join(url.rpartition("/")[0] + "/pgbouncer" for url in pooled)
    values.update({key: str(int(value)) for key, value in pgbouncer.settings().items()})
    return values


def up(replicas: int) -> None:
    if os.environ.get("DATABASE_URL"):
        print("localstack: DATABASE_URL is set; using those servers and starting nothing")
        return
    started = time.monotonic()
    bins = binaries()
    owner = pg_owner()
    password = postgres.load_password()
    pg_root = postgres.pg_root(owner, create=True)
    replicas = max(replicas, postgres.existing_replicas(pg_root))
    primary, *replica_servers = postgres.servers(pg_root, replicas)
    changes = []

    if not (primary.data / "PG_VERSION").exists():
        postgres.init_primary(bins, primary, owner, password)
        changes.append("initialised primary")
    if not postgres.running(bins, primary, owner):
        postgres.start(bins, primary, owner)
        changes.append(f"started primary on {primary.port}")
    exists = f"SELECT 1 FROM pg_database WHERE datname = '{PG_DATABASE}'"
    if postgres.psql(bins, primary.port, exists, password) != "1":
        postgres.psql(bins, primary.port, f"CREATE DATABASE {PG_DATABASE}", password)
        changes.append(f"created database {PG_DATABASE}")
    changes += postgres.statements_preloaded(bins, primary, password)
    changes += postgres.statements_extension(
        bins, primary, password, [*postgres.STATEMENTS_DATABASES, PG_DATABASE]
    )

    for replica in replica_servers:
        if not (replica.data / "PG_VERSION").exists():
            postgres.init_replica(bins, primary, replica, owner, password)
            changes.append(f"cloned {replica.name} from the primary")
        if not postgres.running(bins, replica, owner):
            postgres.start(bins, replica, owner)
            changes.append(f"started {replica.name} on {replica.port}")
        if postgres.psql(bins, replica.port, "SELECT pg_is_in_recovery()", password) != "t":
            raise StackError(f"{replica.name} on port {replica.port} is not in recovery")
        changes += postgres.statements_preloaded(bins, replica, password)

    for pooler in pgbouncer.poolers(pg_root, [primary, *replica_servers]) if POOLING else []:
        changed = pgbouncer.configure(pooler, owner, password)
        if pgbouncer.pid(pooler) is None:
            pgbouncer.start(bins["pgbouncer"], pooler, owner)
            changes.append(f"started pgbouncer for {pooler.name} on {pooler.port}")
        elif changed:
            pgbouncer.reload(pooler)
            changes.append(f"reloaded pgbouncer for {pooler.name}")

    if redis.pid() is None or not redis.ping():
        redis.start(bins)
        changes.append(f"started redis on {REDIS_PORT}")
    else:
        redis.bound_memory()  # one started before the stack had a memory limit gets it now

    write_env_file(urls(len(replica_servers)))
    took = time.monotonic() - started
    summary = "; ".join(changes) if changes else "already running, nothing changed"
    print(f"localstack: {summary} ({took:.1f}s)")
    print(f"localstack: settings written to {ENV_FILE}")


def down() -> None:
    owner = pg_owner()
    pg_root = postgres.pg_root(owner, create=False)
    bins = {"pg_ctl": find_binary("pg_ctl")}
    stopped = []
    servers = postgres.servers(pg_root, postgres.existing_replicas(pg_root))
    for pooler in pgbouncer.poolers(pg_root, servers):
        if pgbouncer.pid(pooler) is not None:
            pgbouncer.stop(pooler)
            stopped.append(f"pgbouncer-{pooler.name}")
    # Replicas first, so none of them logs a lost primary on the way down.
    for server in reversed(postgres.servers(pg_root, postgres.existing_replicas(pg_root))):
        if bins["pg_ctl"] and postgres.running(bins, server, owner):
            postgres.stop(bins, server, owner)
            stopped.append(server.name)
    if redis.pid() is not None:
        redis.stop_redis()
        stopped.append("redis")
    print(f"localstack: stopped {', '.join(stopped)}" if stopped else "localstack: nothing was running")


def status() -> int:
    owner = pg_owner()
    pg_root = postgres.pg_root(owner, create=False)
    pg_ctl = find_binary("pg_ctl")
    all_up = True
    for server in postgres.servers(pg_root, postgres.existing_replicas(pg_root)):
        running = bool(pg_ctl) and postgres.running({"pg_ctl": pg_ctl}, server, owner)
        all_up &= running
        print(
            f"{server.name:<10} postgres  {HOST}:{server.port}  {'up' if running else 'down'}  {server.data}"
        )
    servers = postgres.servers(pg_root, postgres.existing_replicas(pg_root))
    for pooler in pgbouncer.poolers(pg_root, servers) if POOLING else []:
        running = pgbouncer.pid(pooler) is not None and pgbouncer.answers(pooler)
        all_up &= running
        print(
            f"{pooler.name:<10} pgbouncer {HOST}:{pooler.port}  "
            f"{'up' if running else 'down'}  {pooler.directory}"
        )
    redis_up = redis.pid() is not None and redis.ping()
    all_up &= redis_up
    print(f"{'redis':<10} redis     {HOST}:{REDIS_PORT}  {'up' if redis_up else 'down'}  {redis.redis_dir()}")
    return 0 if all_up else 3


def env() -> None:
    if not ENV_FILE.exists():
        raise StackError("the stack has not been started: run 'make stack-up' first")
    for line in ENV_FILE.read_text().splitlines():
        key, value = line.split("=", 1)
        print(f"export {key}='{value}'")


def destroy() -> None:
    down()
    pg_root = postgres.pg_root(None, create=False)
    link = VAR_DIR / "pg"
    if link.is_symlink():
        shutil.rmtree(pg_root, ignore_errors=True)
        link.unlink()
    else:
        shutil.rmtree(link, ignore_errors=True)
    for leftover in (redis.redis_dir(), ENV_FILE, VAR_DIR / "pg-password"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
    print("localstack: deleted the stack's data")
