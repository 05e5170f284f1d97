"""The async pools for tests that read through them (shopsite.db.async_pool)."""

from shopsite.db import async_pool


async def with_pools(coroutine):
    """Run a coroutine with the pools open on this loop, as under uvicorn after its lifespan startup."""
    await async_pool.open_pools()
    try:
        return await coroutine
    finally:
        await async_pool.close_pools()
