"""Every write of the catalog: imports in bulk, the stock that checkout takes and a cancellation returns."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice

import psycopg2.errors
from django.db import connection, transaction
from django.db.models import Case, F, IntegerField, Value, When
from django.db.models.functions import Now

from catalog.importing import ProductRow, RowError
from catalog.models import Product
from shopsite.caching.versioned import namespace_bump_on_commit
from shopsite.db.timeouts import long_transaction

IMPORT_BATCH_SIZE = 10_000
MAX_REPORTED_ERRORS = 50

# The staging table lives for the transaction only; its columns are the file's, typed.
CREATE_STAGING = """
    CREATE TEMP TABLE product_import (
        line integer NOT NULL, sku text NOT NULL, slug text NOT NULL, name text NOT NULL,
        category_id bigint NOT NULL, price numeric(10, 2) NOT NULL, stock integer NOT NULL,
        is_active boolean NOT NULL, details jsonb NOT NULL
    ) ON COMMIT DROP
"""
COPY_STAGING = (
    "COPY product_import (line, sku, slug, name, category_id, price, stock, is_active, details) "
    "FROM STDIN WITH (FORMAT csv)"
)
# Another product already uses the slug a row asks for.
SLUG_TAKEN = """
    SELECT s.line, s.slug, p.sku FROM product_import s
    JOIN catalog_product p ON p.slug = s.slug AND p.sku <> s.sku
    ORDER BY s.line
"""
# One statement: insert new skus, update changed ones, leave identical rows alone (no dead
# tuples, no WAL). xmax = 0 tells an inserted row from an updated one.
UPSERT = """
    WITH upserted AS (
        INSERT INTO catalog_product AS p
            (sku, slug, name, category_id, price, stock, is_active, details, created, updated)
        SELECT sku, slug, name, category_id, price, stock, is_active, details, now(), now()
        FROM product_import
        ON CONFLICT (sku) DO UPDATE SET
            slug = EXCLUDED.slug, name = EXCLUDED.name, category_id = EXCLUDED.category_id,
            price = EXCLUDED.price, stock = EXCLUDED.stock, is_active = EXCLUDED.is_active,
            details = EXCLUDED.details, updated = now()
        WHERE (p.slug, p.name, p.category_id, p.price, p.stock, p.is_active, p.details)
              IS DISTINCT FROM
              (EXCLUDED.slug, EXCLUDED.name, EXCLUDED.category_id, EXCLUDED.price,
               EXCLUDED.stock, EXCLUDED.is_active, EXCLUDED.details)
        RETURNING (xmax = 0) AS inserted
    )
    SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted
"""


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)  # the first MAX_REPORTED_ERRORS
    written: bool = False

    def reject(self, error: RowError) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(error)


def products_import(
    *,
    rows: Iterable[ProductRow | RowError],
    skip_invalid: bool = False,
    dry_run: bool = False,
    batch_size: int = IMPORT_BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Upsert products by sku from validated rows, a batch at a time: COPY into a staging
    table, then one INSERT ... ON CONFLICT per batch, all in one transaction.

    With any refused row and not `skip_invalid`, or with `dry_run`, the transaction is rolled
    back: nothing is written, and the counts say what would have happened.
    """
    result = ImportResult()
    with transaction.atomic():
        long_transaction()  # a big file takes minutes, past the web's statement limit
        with connection.cursor() as cursor:
            # Left over when an outer transaction wraps an earlier import (ON COMMIT has not come).
            cursor.execute("DROP TABLE IF EXISTS pg_temp.product_import")
            cursor.execute(CREATE_STAGING)
        # The database writes batch n in a second thread while this one validates batch n + 1:
        # validation is Python, the writes wait on the server, so the two overlap. Only one of
        # the two threads uses the connection at a time.
        database = connection.connection  # the transaction's psycopg2 connection
        good_rows = _collect_errors(rows, result)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="product-import") as writer:
            writing = None
            while batch := list(islice(good_rows, batch_size)):
                staged = _as_csv(batch)
                if writing:
                    _count(result, writing.result())
                upsert = skip_invalid or not result.rejected  # else only read on, to report every bad line
                writing = writer.submit(
                    _write_batch, database, staged, len(batch), upsert=upsert, skip_invalid=skip_invalid
                )
                if progress:
                    progress(len(batch))
            if writing:
                _count(result, writing.result())

        if dry_run or (result.rejected and not skip_invalid):
            transaction.set_rollback(True)
        else:
            result.written = True
            namespace_bump_on_commit("catalog")
    return result


@dataclass
class _BatchCounts:
    staged: int
    created: int
    updated: int
    slugs_taken: list[RowError]


def _write_batch(
    database, staged: io.StringIO, size: int, *, upsert: bool, skip_invalid: bool
) -> _BatchCounts:
    """Stage one batch and upsert it; return what happened to its rows."""
    taken = []
    created = updated = 0
    with database.cursor() as cursor:
        cursor.copy_expert(COPY_STAGING, staged)
        if upsert:
            # Slugs taken by other products are rare: look for them only when the upsert trips on one.
            cursor.execute("SAVEPOINT product_import_batch")
            try:
                cursor.execute(UPSERT)
            except psycopg2.errors.UniqueViolation:
                cursor.execute("ROLLBACK TO SAVEPOINT product_import_batch")
                taken = _slugs_taken(cursor)
                if skip_invalid:
                    cursor.execute(UPSERT)
            if cursor.description:
                created, updated = cursor.fetchone()
            cursor.execute("RELEASE SAVEPOINT product_import_batch")
        else:
            taken = _slugs_taken(cursor)
        cursor.execute("TRUNCATE product_import")
    errors = [
        RowError(line, f"slug {slug!r} is already used by product {sku!r}") for line, slug, sku in taken
    ]
    return _BatchCounts(size - len(taken), created, updated, errors)


def _slugs_taken(cursor) -> list[tuple[int, str, str]]:
    """Return (line, slug, sku of the other product) for each staged row whose slug is taken, and
    drop those rows from the staging table."""
    cursor.execute(SLUG_TAKEN)
    taken = cursor.fetchall()
    cursor.execute("DELETE FROM product_import WHERE line = ANY(%s)", [[line for line, _, _ in taken]])
    return taken


def _count(result: ImportResult, batch: _BatchCounts) -> None:
    for error in batch.slugs_taken:
        result.reject(error)
    result.created += batch.created
    result.updated += batch.updated
    result.unchanged += batch.staged - batch.created - batch.updated


def _collect_errors(rows: Iterable[ProductRow | RowError], result: ImportResult):
    for row in rows:
        if isinstance(row, RowError):
            result.reject(row)
        else:
            yield row


def _as_csv(batch: list[ProductRow]) -> io.StringIO:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows(
        (
            row.line,
            row.sku,
            row.slug,
            row.name,
            row.category_id,
            row.price,
            row.stock,
            "t" if row.is_active else "f",
            row.details_json,
        )
        for row in batch
    )
    buffer.seek(0)
    return buffer


class OutOfStock(Exception):
    """The shop has fewer of a product than the order asks for."""

    def __init__(self, product_name: str, requested: int, available: int):
        super().__init__(f"{product_name}: {requested} requested, {available} available")
        self.product_name = product_name
        self.requested = requested
        self.available = available


class ProductUnavailable(Exception):
    """A product of the order was deleted or is no longer sold."""

    def __init__(self, product_id: int, product_name: str | None):
        super().__init__(f"{product_name or f'product #{product_id}'} is no longer available")
        self.product_id = product_id
        self.product_name = product_name


@dataclass(frozen=True)
class ProductSold:
    """A product as it was when its stock was taken: what an order records of it."""

    name: str
    price: Decimal


def stock_take(*, lines: Mapping[int, int]) -> dict[int, ProductSold]:
    """Take `lines` ({product id: quantity}) from stock; return each product's name and price now.

    Lock the products in id order, check them, then take every line in one UPDATE. Raise
    ProductUnavailable or OutOfStock for the first line that cannot be sold, writing nothing.
    Run inside the caller's transaction (the order's), so the stock and the order commit together.
    """
    if not transaction.get_connection().in_atomic_block:
        raise transaction.TransactionManagementError("stock_take runs inside the caller's transaction")
    if any(quantity < 1 for quantity in lines.values()):
        raise ValueError(f"every quantity must be positive: {dict(lines)}")
    product_ids = sorted(lines)
    # Locked in id order: two baskets sharing products queue in the same order and cannot deadlock.
    products = {
        product.pk: product
        for product in Product.objects.filter(pk__in=product_ids)
        .order_by("pk")
        .only("id", "name", "price", "stock", "is_active")
        .select_for_update()
    }
    for product_id in product_ids:
        product = products.get(product_id)
        if product is None or not product.is_active:
            raise ProductUnavailable(product_id, product.name if product is not None else None)
        if product.stock < lines[product_id]:
            raise OutOfStock(product.name, lines[product_id], product.stock)

    # One UPDATE for all lines; the rows are locked and checked, so it neither waits nor fails.
    Product.objects.filter(pk__in=product_ids).update(stock=F("stock") - _each(lines), updated=Now())
    return {pk: ProductSold(name=products[pk].name, price=products[pk].price) for pk in product_ids}


def stock_return(*, lines: Mapping[int, int]) -> None:
    """Put `lines` ({product id: quantity}) back in stock, as when an order is cancelled.

    Lock the products in id order, as stock_take does (a return and a sale of the same products
    never deadlock), then add every line in one UPDATE. A product no longer sold gets its stock
    back too. Run inside the caller's transaction (the cancellation's): both commit or neither.
    """
    if not transaction.get_connection().in_atomic_block:
        raise transaction.TransactionManagementError("stock_return runs inside the caller's transaction")
    if any(quantity < 1 for quantity in lines.values()):
        raise ValueError(f"every quantity must be positive: {dict(lines)}")
    if not lines:
        return
    product_ids = sorted(lines)
    locked = Product.objects.filter(pk__in=product_ids).order_by("pk").select_for_update()
    list(locked.values_list("pk", flat=True))
    Product.objects.filter(pk__in=product_ids).update(stock=F("stock") + _each(lines), updated=Now())


def _each(lines: Mapping[int, int]) -> Case:
    """Return `CASE id WHEN ... THEN quantity END`: each product's own quantity, in one UPDATE."""
    return Case(
        *(When(pk=product_id, then=Value(quantity)) for product_id, quantity in sorted(lines.items())),
        output_field=IntegerField(),
    )
