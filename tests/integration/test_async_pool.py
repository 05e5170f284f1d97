"""The live endpoints' asyncpg pools (shopsite.db.async_pool) against the stack's poolers: size,
wait, recycle age and the check before use, as ASYNC_POOL sets them."""

from __future__ import annotations

import asyncio

import pytest

from shopsite.db import async_pool
from tests.integration.pools import with_pools

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True, databases="__all__")]


async def opened_at(uses: int, alias: str = "default") -> list[float]:
    """When the connection each of `uses` reads, one after another, was given had been opened."""
    seen = []
    for _ in range(uses):
        async with async_pool.connection(alias) as conn:
            await conn.fetchval("SELECT 1")
            seen.append(conn.opened_at)
    return seen


def test_a_pooled_connection_is_reused_while_it_is_young(settings):
    settings.ASYNC_POOL = {**settings.ASYNC_POOL, "size": 1, "recycle": 3600}
    seen = asyncio.run(with_pools(opened_at(3)))
    assert len(set(seen)) == 1


def test_a_connection_older_than_recycle_is_replaced_before_use(settings):
    settings.ASYNC_POOL = {**settings.ASYNC_POOL, "size": 1, "recycle": 0}
    seen = asyncio.run(with_pools(opened_at(3)))
    assert len(set(seen)) == 3  # each use found the one before it too old


def test_a_connection_closed_while_idle_in_the_pool_is_replaced(settings):
    settings.ASYNC_POOL = {**settings.ASYNC_POOL, "size": 1}

    async def closed_then_used():
        async with async_pool.connection("default") as conn:
            raw = conn._con  # the pool's connection behind its proxy
        raw._transport.abort()  # as a pooler restarting drops its idle clients
        async with async_pool.connection("default") as conn:
            return await conn.fetchval("SELECT 41 + 1"), conn._con is not raw

    assert asyncio.run(with_pools(closed_then_used())) == (42, True)


def test_a_full_pool_raises_pool_timeout_within_its_wait(settings):
    settings.ASYNC_POOL = {**settings.ASYNC_POOL, "size": 1, "timeout": 0.1}

    async def second_while_first_held():
        async with async_pool.connection("default"):
            with pytest.raises(async_pool.PoolTimeout):
                async with async_pool.connection("default"):
                    pass
        async with async_pool.connection("default") as conn:  # free again once given back
            return await conn.fetchval("SELECT 1")

    assert asyncio.run(with_pools(second_while_first_held())) == 1


def test_without_pools_each_use_opens_a_connection_and_closes_it():
    async def used():
        async with async_pool.connection("default") as conn:
            answer = await conn.fetchval("SELECT 1")
        return answer, conn.is_closed()

    assert asyncio.run(used()) == (1, True)


def test_connections_carry_the_application_name_and_reach_the_test_database(settings):
    async def names():
        async with async_pool.connection("default") as conn:
            return await conn.fetchrow("SELECT current_database(), current_setting('application_name')")

    database, application = asyncio.run(names())
    assert database == settings.DATABASES["default"]["NAME"]
    assert application == settings.DATABASE_APPLICATION_NAME


def test_a_connection_given_back_keeps_the_poolers_web_timeouts(settings):
    """Through PgBouncer in transaction mode the session is the server connection's, shared by
    every client: giving a connection back must not RESET ALL what the pooler's connect_query set."""
    settings.ASYNC_POOL = {**settings.ASYNC_POOL, "size": 1}

    async def used_then_asked():
        for _ in range(5):
            async with async_pool.connection("default") as conn:
                await conn.fetchval("SELECT 1")
        async with async_pool.connection("default") as conn:
            return await conn.fetchval("SELECT current_setting('statement_timeout')")

    shown = asyncio.run(with_pools(used_then_asked()))
    assert shown == f"{settings.DATABASE_STATEMENT_TIMEOUT_MS // 1000}s"
