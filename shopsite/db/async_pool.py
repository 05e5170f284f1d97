"""Async database connections for the live endpoints (shopsite.live): psycopg 3's async pool.

Django's async ORM still runs every query in a thread; these connections wait on the event loop
itself, so one process keeps many queries in flight while it waits for the database.

psycopg 3, not asyncpg: it is the driver Django itself supports (one set of conninfo, options and
type adapters), and it sends plain queries by default, where asyncpg prepares every statement:
through a transaction-pooling PgBouncer a prepared statement may meet another server connection.
Prepared statements stay off here too (`prepare_threshold=None`), for the same reason.

The pools belong to the event loop that opened them: shopsite.asgi opens them at the server's
lifespan startup (one loop per uvicorn worker) and closes them at shutdown. Without a lifespan (a
test's own loop, an async view run under WSGI), each use connects and closes a connection of its
own: correct, not fast.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from django.conf import settings
from django.db import connections
from psycopg.conninfo import make_conninfo
from psycopg_pool import AsyncConnectionPool, PoolTimeout

__all__ = ["PoolTimeout", "close_pools", "connection", "open_pools"]

_pools: dict[str, AsyncConnectionPool] = {}
_loop: asyncio.AbstractEventLoop | None = None


def conninfo(alias: str) -> str:
    """Return the libpq connection string of a database alias, as Django connects to it (in tests,
    the test database: Django renames it in the connection's settings)."""
    db = connections[alias].settings_dict
    options = db.get("OPTIONS", {})
    params = {
        "host": db["HOST"],
        "port": db["PORT"],
        "dbname": db["NAME"],
        "user": db["USER"],
        "password": db["PASSWORD"],
        "connect_timeout": options.get("connect_timeout"),
        "application_name": options.get("application_name"),
        "options": options.get("options"),
    }
    return make_conninfo(**{key: str(value) for key, value in params.items() if value not in (None, "")})


def _connect_kwargs() -> dict:
    return {"autocommit": True, "prepare_threshold": None}


async def open_pools() -> None:
    """Open a pool per database alias on the running loop (ASYNC_POOL: size, wait, recycle, check)."""
    global _loop
    config = settings.ASYNC_POOL
    for alias in settings.DATABASES:
        pool = AsyncConnectionPool(
            conninfo(alias),
            min_size=config["min_size"],
            max_size=config["size"],
            timeout=config["timeout"],
            max_lifetime=config["recycle"],
            # A round trip per checkout, as CONN_HEALTH_CHECKS makes one per request for Django's.
            check=AsyncConnectionPool.check_connection if config["check"] else None,
            kwargs=_connect_kwargs(),
            open=False,
            name=alias,
        )
        # Not waiting for the connections: a replica that is down must not stop the server.
        await pool.open(wait=False)
        _pools[alias] = pool
    _loop = asyncio.get_running_loop()


async def close_pools() -> None:
    global _loop
    pools = list(_pools.values())
    _pools.clear()
    _loop = None
    await asyncio.gather(*(pool.close() for pool in pools))


@asynccontextmanager
async def connection(alias: str) -> AsyncIterator[psycopg.AsyncConnection]:
    """Yield a connection to the alias: from this loop's pool (PoolTimeout when none is free within
    ASYNC_POOL's wait), or one of its own where no pool was opened on this loop."""
    pool = _pools.get(alias) if _loop is asyncio.get_running_loop() else None
    if pool is not None:
        async with pool.connection() as conn:
            yield conn
        return
    conn = await psycopg.AsyncConnection.connect(conninfo(alias), **_connect_kwargs())
    try:
        yield conn
    finally:
        await conn.close()
