"""Live stock and price of many products at once: the reads of the live endpoint.

`stock_levels` reads on the event loop (shopsite.db.async_pool), for shopsite.live under ASGI;
`stock_levels_sync` is its twin through Django's connections, for the same URL under WSGI. The
same query, the same rows, the same JSON: the benchmark (bench/async_io.py) compares the two
kinds of I/O, not two programs.
"""

from __future__ import annotations

from django.db import connections, router

from catalog.fragments import stock_state
from catalog.models import Product
from shopsite.db import async_pool
from shopsite.db.router import Route

MAX_IDS = 100  # one page of products and then some; a longer list is a 400
# The primary key's index, then the row: no plan reads more rows than ids asked for. One query, in
# each driver's placeholder. The ids go as the text of an array ("{1,2,3}"), cast by the server: a
# parameter of a builtin scalar type, for which asyncpg runs no type introspection query (which
# takes seconds on a database whose catalogs were never analyzed, as a new test database's).
STOCK_SQL = (
    "SELECT id, stock, price FROM catalog_product"
    " WHERE id = ANY({ids}::text::bigint[]) AND is_active ORDER BY id"
)


class BadIds(ValueError):
    """The `ids` parameter is not a list of product ids: the message says why, for the 400."""


def parse_ids(text: str | None) -> list[int]:
    """Return the distinct product ids of `ids=1,2,3`, or raise BadIds."""
    if not text:
        raise BadIds("ids is required: a comma-separated list of product ids, for example ids=1,2,3")
    parts = text.split(",")
    if len(parts) > MAX_IDS:
        raise BadIds(f"ids lists {len(parts)} products: at most {MAX_IDS}")
    ids = []
    for part in parts:
        part = part.strip()
        if not part.isdecimal() or not 0 < int(part) < 2**63:
            raise BadIds(f"ids holds {part[:20]!r}: every id is a positive whole number")
        ids.append(int(part))
    return sorted(set(ids))


def as_json(rows: list[tuple]) -> dict:
    """Return the rows (id, stock, price) as the endpoint's JSON document. Ids not found (unknown,
    or no longer sold) are left out: a page shows those as unavailable."""
    products = []
    for product_id, stock, price in rows:
        label, _ = stock_state(stock)
        products.append(
            {"id": product_id, "stock": stock, "in_stock": stock > 0, "label": label, "price": f"{price:f}"}
        )
    return {"products": products}


async def stock_levels(ids: list[int], route: Route) -> tuple[list[tuple], str]:
    """Return the rows for `ids` and the alias that answered, read where the route says."""
    alias = await route.aread_alias()
    async with async_pool.connection(alias) as conn:
        rows = await conn.fetch(STOCK_SQL.format(ids="$1"), _array(ids))
    return [tuple(row) for row in rows], alias


def stock_levels_sync(ids: list[int]) -> list[tuple]:
    """The same rows through Django's connection, read where the router says."""
    with connections[router.db_for_read(Product)].cursor() as cursor:
        cursor.execute(STOCK_SQL.format(ids="%s"), [_array(ids)])
        return cursor.fetchall()


def _array(ids: list[int]) -> str:
    return "{" + ",".join(map(str, ids)) + "}"
