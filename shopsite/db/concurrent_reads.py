"""Several independent querysets read at once, on the event loop (asyncpg), from a replica.

For a page that needs several queries none of which needs another's result (the dashboard's
blocks): one after another they cost the sum of their round trips, at once the longest. Each
queryset is compiled by Django (the same SQL the ORM runs, for the primary's dialect) and sent
on a connection of its own from shopsite.db.async_pool; rows come back as tuples, in the order
of the queryset's `values_list()` or `values()` fields.

Which server: a healthy replica that has replayed the primary's WAL position of the moment the
reads start (asked of the primary first), so nothing committed before them is missed, whatever the
request (an admin page, pinned to the primary for its own reads, may read report views here);
otherwise the primary. To keep it to one round trip after that, the replica's replay position is
asked together with the reads, and the connections are not checked before use: if that replica
had not replayed the position, every read is done again on the primary; if a read fails there,
the replica is taken out and the same. From a sync view it runs under `async_to_sync`: under
ASGI on the server's loop and pools, under WSGI on a loop of its own with connections of its own.
"""

from __future__ import annotations

import asyncio
import re
import time

from asgiref.sync import async_to_sync
from django.db import connections
from django.db.models import QuerySet

from shopsite.db import async_pool
from shopsite.db.raw import RawRead
from shopsite.db.replicas import error_summary, parse_lsn, pool
from shopsite.db.router import PRIMARY
from shopsite.db.timing import count_query

PLACEHOLDER = re.compile(r"%%|%s")
NAMED_PLACEHOLDER = re.compile(r"%%|%\((\w+)\)s")


def read_at_once(querysets: dict[str, list[QuerySet | RawRead]]) -> dict[str, list[list[tuple]]]:
    """Return the rows of every queryset or raw read, by name, read concurrently from one
    caught-up replica."""
    statements = {name: [_compiled(queryset) for queryset in group] for name, group in querysets.items()}
    with connections[PRIMARY].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        (lsn,) = cursor.fetchone()
    return async_to_sync(_read_all)(statements, parse_lsn(lsn))


def _compiled(read: QuerySet | RawRead) -> tuple[str, tuple]:
    """Return the read's SQL with asyncpg's placeholders ($1, $2, ...) and its parameters."""
    if isinstance(read, RawRead):
        return _named(read.sql, read.params)
    sql, params = read.query.get_compiler(using=PRIMARY).as_sql()
    numbers = iter(range(1, len(params) + 1))
    return PLACEHOLDER.sub(lambda found: "%" if found[0] == "%%" else f"${next(numbers)}", sql), tuple(params)


def _named(sql: str, params: dict) -> tuple[str, tuple]:
    """Return SQL with `%(name)s` parameters as asyncpg's, one number per name."""
    numbers: dict[str, int] = {}

    def number(found: re.Match) -> str:
        if found[0] == "%%":
            return "%"
        name = found[1]
        numbers.setdefault(name, len(numbers) + 1)
        return f"${numbers[name]}"

    converted = NAMED_PLACEHOLDER.sub(number, sql)
    return converted, tuple(params[name] for name in numbers)


async def _read_all(statements: dict[str, list[tuple[str, tuple]]], lsn: int) -> dict[str, list[list[tuple]]]:
    replica = await pool.achoose()
    if replica is not None:
        try:
            replayed, rows = await asyncio.gather(_replayed(replica), _read_on(replica, statements))
        except async_pool.UNREACHABLE as error:
            pool.take_out(replica, error_summary(error))
        else:
            if replayed is not None and replayed >= lsn:
                return rows
    return await _read_on(PRIMARY, statements)


async def _replayed(alias: str) -> int | None:
    async with async_pool.connection(alias, check=False) as conn:
        lsn = await conn.fetchval("SELECT pg_last_wal_replay_lsn()::text")
    return parse_lsn(lsn) if lsn else None


async def _read_on(
    alias: str, statements: dict[str, list[tuple[str, tuple]]]
) -> dict[str, list[list[tuple]]]:
    async def rows(sql: str, params: tuple) -> list[tuple]:
        started = time.perf_counter()
        async with async_pool.connection(alias, check=False) as conn:
            found = [tuple(row) for row in await conn.fetch(sql, *params)]
        count_query(alias, time.perf_counter() - started)
        return found

    names = list(statements)
    groups = await asyncio.gather(
        *(asyncio.gather(*(rows(sql, params) for sql, params in statements[name])) for name in names)
    )
    return {name: list(group) for name, group in zip(names, groups, strict=True)}
