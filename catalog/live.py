"""GET /live/stock?ids=1,2,3: many products' stock and price at once, as JSON, live (a live
endpoint of shopsite.live, wired by LIVE_ENDPOINTS).

`stock` reads on the event loop (shopsite.db.async_pool), under ASGI; `stock_sync` is its twin
through Django's connections, under WSGI. The same query, the same rows, the same JSON: the
benchmark (bench/async_io.py) compares the two kinds of I/O, not two programs.
"""

from __future__ import annotations

from django.db import connections, router

from catalog.fragments import stock_state
from catalog.models import Product
from shopsite.db import async_pool
from shopsite.db.router import Route
from shopsite.live import Answer, BadRequest, json_answer

MAX_IDS = 100  # one page of products and then some; a longer list is a 400
# The primary key's index, then the row: no plan reads more rows than ids asked for. One query, in
# each driver's placeholder. The ids go as the text of an array ("{1,2,3}"), cast by the server: a
# parameter of a builtin scalar type, for which asyncpg runs no type introspection query (which
# takes seconds on a database whose catalogs were never analyzed, as a new test database's).
STOCK_SQL = (
    "SELECT id, stock, price FROM catalog_product"
    " WHERE id = ANY({ids}::text::bigint[]) AND is_active ORDER BY id"
)


async def stock(query: dict[str, list[str]], route: Route) -> Answer:
    """The products' stock and price, read on the event loop where the route says."""
    ids = parse_ids(query)
    alias = await route.aread_alias()
    async with async_pool.connection(alias) as conn:
        rows = await conn.fetch(STOCK_SQL.format(ids="$1"), _array(ids))
    return json_answer(as_json([tuple(row) for row in rows]))


def stock_sync(query: dict[str, list[str]], route: Route) -> Answer:
    """The same, through Django's connection for the alias the router gives (from `route`)."""
    ids = parse_ids(query)
    with connections[router.db_for_read(Product)].cursor() as cursor:  # the router asks `route`
        cursor.execute(STOCK_SQL.format(ids="%s"), [_array(ids)])
        return json_answer(as_json(cursor.fetchall()))


def parse_ids(query: dict[str, list[str]]) -> list[int]:
    """Return the distinct product ids of `ids=1,2,3` (the last `ids` given), or raise BadRequest."""
    text = query.get("ids", [""])[-1]
    if not text:
        raise BadRequest("ids is required: a comma-separated list of product ids, for example ids=1,2,3")
    parts = text.split(",")
    if len(parts) > MAX_IDS:
        raise BadRequest(f"ids lists {len(parts)} products: at most {MAX_IDS}")
    ids = []
    for part in parts:
        part = part.strip()
        if not part.isdecimal() or not 0 < int(part) < 2**63:
            raise BadRequest(f"ids holds {part[:20]!r}: every id is a positive whole number")
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


def _array(ids: list[int]) -> str:
    return "{" + ",".join(map(str, ids)) + "}"
