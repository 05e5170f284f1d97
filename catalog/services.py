"""Every write of the catalog: imports in bulk."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice

from django.db import connection, transaction

from catalog.importing import ProductRow, RowError

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
    """Upsert products by sku from validated rows: COPY into a staging table, then one INSERT.

    With any refused row and not `skip_invalid`, or with `dry_run`, the transaction is rolled
    back: nothing is written, and the counts say what would have happened.
    """
    result = ImportResult()
    staged = 0
    with transaction.atomic(), connection.cursor() as cursor:
        # Left over when an outer transaction wraps an earlier import (ON COMMIT has not come).
        cursor.execute("DROP TABLE IF EXISTS pg_temp.product_import")
        cursor.execute(CREATE_STAGING)
        good_rows = _collect_errors(rows, result)
        while batch := list(islice(good_rows, batch_size)):
            if not result.rejected or skip_invalid:  # else only read on, to report every bad line
                cursor.copy_expert(COPY_STAGING, _as_csv(batch))
                staged += len(batch)
            if progress:
                progress(len(batch))

        cursor.execute(SLUG_TAKEN)
        conflicts = cursor.fetchall()
        for line, slug, sku in conflicts:
            result.reject(RowError(line, f"slug {slug!r} is already used by product {sku!r}"))
        if conflicts and skip_invalid:
            cursor.execute(
                "DELETE FROM product_import WHERE line = ANY(%s)", [[line for line, _, _ in conflicts]]
            )
            staged -= len(conflicts)

        if result.rejected and not skip_invalid:
            transaction.set_rollback(True)
            return result

        cursor.execute(UPSERT)
        result.created, result.updated = cursor.fetchone()
        result.unchanged = staged - result.created - result.updated
        if dry_run:
            transaction.set_rollback(True)
        else:
            result.written = True
    return result


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
