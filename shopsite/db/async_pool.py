"""Async database connections for the live endpoints (shopsite.live): an asyncpg pool per alias.

Django's async ORM still runs every query in a thread; these connections wait on the event loop
itself, so one process keeps many queries in flight while it waits for the database.

asyncpg, not psycopg 3's async pool: with psycopg 3 installed, Django switches its own PostgreSQL
backend to it (it prefers psycopg 3 whenever it can import it), which would change the driver of
every sync query in the shop as a side effect; asyncpg changes nothing of Django's. It is also the
faster of the two at decoding rows. Through a transaction-pooling PgBouncer its statement cache
is off (`statement_cache_size=0`): a statement prepared on one server connection is not there on
the next (asyncpg's FAQ, PgBouncer's docs).

ASYNC_POOL sets each pool as POOL_* set the poolers': `size` connections per alias and worker,
`timeout` seconds to wait for a free one (then PoolTimeout: the 503 page), `recycle` seconds
before a connection is replaced, and `check`, a round trip before each use that replaces a
connection a pooler restart closed (as CONN_HEALTH_CHECKS does for Django's).

The pools belong to the event loop that opened them: shopsite.live opens them at the server's
lifespan startup (one loop per uvicorn worker) and closes them at shutdown. Without a lifespan (a
test's own loop), each use connects and closes a connection of its own: correct, not fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from django.conf import settings
from django.db import connections

# A server that cannot be reached or serve connections, as shopsite.db.outage counts them: refused,
# timed out or lost (OSError, InterfaceError), class 08, shutting down or starting up, no slot left.
UNREACHABLE = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
)


class PoolTimeout(Exception):
    """No connection of the alias's pool came free within ASYNC_POOL's timeout: busy, not down."""


class Connection(asyncpg.Connection):
    """asyncpg's connection, knowing when it was opened (for `recycle`)."""

    __slots__ = ("opened_at",)


_pools: dict[str, asyncpg.Pool] = {}
_loop: asyncio.AbstractEventLoop | None = None


def connect_kwargs(alias: str) -> dict:
    """Return asyncpg's connection arguments for a database alias, as Django connects to it (in
    tests, the test database: Django renames it in the connection's settings)."""
    db = connections[alias].settings_dict
    options = db.get("OPTIONS", {})
    server_settings = {"application_name": options.get("application_name", "shopsite-web")}
    # Django's `options` ("-c statement_timeout=5000 -c lock_timeout=3000"), as asyncpg's settings.
    words = shlex.split(options.get("options", ""))
    for flag, setting in zip(words[::2], words[1::2], strict=False):
        if flag == "-c" and "=" in setting:
            name, value = setting.split("=", 1)
            server_settings[name] = value
    return {
        "host": db["HOST"],
        "port": int(db["PORT"]),
        "database": db["NAME"],
        "user": db["USER"],
        "password": db["PASSWORD"],
        "timeout": float(options.get("connect_timeout", 5)),
        "server_settings": server_settings,
        "statement_cache_size": 0,  # PgBouncer in transaction mode
        "connection_class": Connection,
    }


async def _opened(connection: Connection) -> None:
    connection.opened_at = time.monotonic()


async def _kept_as_is(connection: asyncpg.Connection) -> None:
    """Give a connection back without asyncpg's reset (`RESET ALL`, `UNLISTEN *`, ...): through a
    transaction-pooling PgBouncer the session is the server connection's, shared with every
    client, and RESET ALL would drop the web's timeouts the pooler set on it. These connections
    set nothing on a session to reset."""


async def open_pools() -> None:
    """Open a pool per database alias on the running loop (ASYNC_POOL)."""
    global _loop
    config = settings.ASYNC_POOL
    for alias in settings.DATABASES:
        _pools[alias] = await asyncpg.create_pool(
            min_size=0,  # connected on first use: a replica that is down must not stop the server
            max_size=config["size"],
            max_inactive_connection_lifetime=config["recycle"],
            init=_opened,
            reset=_kept_as_is,
            **connect_kwargs(alias),
        )
    _loop = asyncio.get_running_loop()


async def close_pools() -> None:
    global _loop
    pools = list(_pools.values())
    _pools.clear()
    _loop = None
    await asyncio.gather(*(pool.close() for pool in pools))


def pools_open() -> bool:
    """Whether this process serves on a loop with its pools open (under ASGI, after its lifespan
    startup): where reading on the event loop costs no new connections."""
    return _loop is not None and _loop.is_running()


@asynccontextmanager
async def connection(alias: str, *, check: bool | None = None) -> AsyncIterator[asyncpg.Connection]:
    """Yield a connection to the alias: from this loop's pool (PoolTimeout when none is free within
    ASYNC_POOL's timeout), or one of its own where no pool was opened on this loop. `check`: the
    round trip before use (ASYNC_POOL's by default); a caller that can redo its read skips it."""
    pool = _pools.get(alias) if _loop is asyncio.get_running_loop() else None
    if pool is None:
        own = await asyncpg.connect(**connect_kwargs(alias))
        try:
            yield own
        finally:
            await own.close()
        return
    conn = await _acquire(pool, settings.ASYNC_POOL["check"] if check is None else check)
    try:
        yield conn
    finally:
        await pool.release(conn)


async def _acquire(pool: asyncpg.Pool, check: bool) -> asyncpg.Connection:
    config = settings.ASYNC_POOL
    try:
        conn = await pool.acquire(timeout=config["timeout"])
    except TimeoutError:
        raise PoolTimeout(f"no connection free within {config['timeout']} s") from None
    stale = time.monotonic() - conn.opened_at > config["recycle"]
    if not stale and check:
        try:
            await conn.execute("SELECT 1")
        except UNREACHABLE:
            stale = True  # closed under it (a pooler restarted): replaced below, once
    if stale:
        # Closed and given back, the pool replaces it on its next use. A connection whose check
        # found it closed may have been given back already, by asyncpg: its proxy refuses both.
        with contextlib.suppress(asyncpg.InterfaceError):
            conn.terminate()
            await pool.release(conn)
        try:
            conn = await pool.acquire(timeout=config["timeout"])
        except TimeoutError:
            raise PoolTimeout(f"no connection free within {config['timeout']} s") from None
    return conn
