"""Read a product file (.csv or .jsonl) and validate each row before anything is written.

`product_rows()` yields a `ProductRow` for each good row and a `RowError` (naming the line) for
each bad one, streaming, so a file of any size is read in constant memory.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from catalog.details import (
    MAX_DETAILS_CHARS,
    NOT_UNICODE,
    DetailsRefused,
    details_checked,
    details_from_json,
    details_json,
    json_loads_strict,
)
from catalog.models import MAX_PRICE

REQUIRED_COLUMNS = ("sku", "name", "category", "price", "stock", "details")
OPTIONAL_COLUMNS = ("slug", "is_active")
MAX_STOCK = 2**31 - 1
MAX_FIELD_CHARS = 1024 * 1024  # larger than any valid field, so a huge one is reported, not read whole
SKU_PATTERN = re.compile(r"^[^\s\x00]{1,64}$")
NOT_SLUG = re.compile(r"[^a-z0-9_]+")
SLUG_PATTERN = re.compile(r"^[-a-zA-Z0-9_]{1,200}$")
CENT = Decimal("0.01")
TRUE_WORDS = {"1", "true", "t", "yes", "y"}
FALSE_WORDS = {"0", "false", "f", "no", "n"}


@dataclass(frozen=True, slots=True)
class ProductRow:
    line: int
    sku: str
    slug: str
    name: str
    category_id: int
    price: Decimal
    stock: int
    is_active: bool
    details_json: str  # a JSON object, as text: COPY takes it without encoding it again


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    reason: str

    def __str__(self):
        return f"line {self.line}: {self.reason}"


class ProductFileError(Exception):
    """The file as a whole cannot be read: unknown type, wrong columns, not UTF-8."""


def product_rows(path: Path, *, categories: Mapping[str, int]) -> Iterator[ProductRow | RowError]:
    """Yield each row of a product file, validated, or the reason it is refused.

    `categories` maps category slugs to ids. A sku or slug seen on an earlier line is refused.
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        records = _csv_records(path)
    elif suffix == ".jsonl":
        records = _jsonl_records(path)
    else:
        raise ProductFileError(f"{path.name}: expected a .csv or .jsonl file")

    first_line_of_sku: dict[str, int] = {}
    first_line_of_slug: dict[str, int] = {}
    for line, record in records:
        if isinstance(record, RowError):
            yield record
            continue
        row = _validate(line, record, categories)
        if isinstance(row, ProductRow):
            if row.sku in first_line_of_sku:
                row = RowError(
                    line, f"duplicate sku {row.sku!r} (first on line {first_line_of_sku[row.sku]})"
                )
            elif row.slug in first_line_of_slug:
                row = RowError(
                    line, f"duplicate slug {row.slug!r} (first on line {first_line_of_slug[row.slug]})"
                )
            else:
                first_line_of_sku[row.sku] = line
                first_line_of_slug[row.slug] = line
        yield row


def _csv_records(path: Path) -> Iterator[tuple[int, dict | RowError]]:
    csv.field_size_limit(MAX_FIELD_CHARS)
    # newline="" as the csv module asks; utf-8-sig accepts a spreadsheet's byte-order mark.
    with open(path, newline="", encoding="utf-8-sig", errors="strict") as handle:
        reader = csv.reader(handle)
        try:
            columns = [column.strip() for column in next(reader, [])]
        except UnicodeDecodeError:
            raise ProductFileError(f"{path.name}: line 1: not valid UTF-8") from None
        except csv.Error as error:
            raise ProductFileError(f"{path.name}: line 1: {error}") from None
        _check_columns(path, columns)
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError:
                # The decoder reads ahead, so the line is approximate; reading cannot go on.
                raise ProductFileError(
                    f"{path.name}: near line {reader.line_num + 1}: not valid UTF-8 (save the file as UTF-8)"
                ) from None
            except csv.Error as error:
                yield reader.line_num, RowError(reader.line_num, f"unreadable CSV: {error}")
                continue
            if not fields:
                continue  # a blank line
            if len(fields) > len(columns):
                yield reader.line_num, RowError(reader.line_num, "more fields than the header has columns")
            elif len(fields) < len(columns):
                yield reader.line_num, RowError(reader.line_num, "fewer fields than the header has columns")
            else:
                yield reader.line_num, dict(zip(columns, fields, strict=True))


def _jsonl_records(path: Path) -> Iterator[tuple[int, dict | RowError]]:
    with open(path, "rb") as handle:
        for line, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            if len(raw) > MAX_FIELD_CHARS:
                yield line, RowError(line, f"line longer than {MAX_FIELD_CHARS} bytes")
                continue
            try:
                record = json_loads_strict(raw.decode("utf-8-sig" if line == 1 else "utf-8"))
            except UnicodeDecodeError:
                yield line, RowError(line, "not valid UTF-8")
                continue
            except DetailsRefused as refused:
                # Anywhere in the line: NaN, 1e400, a 5,000-digit number, JSON nested ~1,000 deep.
                yield line, RowError(line, refused.reason)
                continue
            if not isinstance(record, dict):
                yield line, RowError(line, "expected a JSON object per line")
                continue
            missing = [column for column in REQUIRED_COLUMNS if column not in record]
            unknown = sorted(set(record) - set(REQUIRED_COLUMNS) - set(OPTIONAL_COLUMNS))
            if missing or unknown:
                parts = [f"missing {', '.join(missing)}"] if missing else []
                parts += [f"unknown {', '.join(unknown)}"] if unknown else []
                yield line, RowError(line, "; ".join(parts))
                continue
            yield line, record


def _check_columns(path: Path, columns: list[str]) -> None:
    missing = [column for column in REQUIRED_COLUMNS if column not in columns]
    unknown = [column for column in columns if column not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    duplicated = sorted({column for column in columns if columns.count(column) > 1})
    problems = []
    if missing:
        problems.append(f"missing columns: {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown columns: {', '.join(unknown)}")
    if duplicated:
        problems.append(f"repeated columns: {', '.join(duplicated)}")
    if problems:
        expected = ", ".join(REQUIRED_COLUMNS) + " (optional: " + ", ".join(OPTIONAL_COLUMNS) + ")"
        raise ProductFileError(f"{path.name}: line 1: {'; '.join(problems)}. Expected: {expected}")


def _validate(line: int, record: dict, categories: Mapping[str, int]) -> ProductRow | RowError:
    """Return the row typed and checked, or the first reason it cannot be imported."""
    sku = _text(record["sku"])
    if not SKU_PATTERN.match(sku) or NOT_UNICODE.search(sku):
        return RowError(line, "sku must be 1-64 characters without spaces")
    name = _text(record["name"])
    if not name or len(name) > 200 or "\x00" in name or NOT_UNICODE.search(name):
        return RowError(line, "name must be 1-200 characters")
    category_id = categories.get(_text(record["category"]))
    if category_id is None:
        return RowError(line, f"unknown category {_shorten(_text(record['category']))!r}")
    price = _price(record["price"])
    if price is None:
        refused = _shorten(record["price"])
        return RowError(
            line, f"price must be a number from 0 to {MAX_PRICE} with at most 2 decimals, not {refused!r}"
        )
    stock = _stock(record["stock"])
    if stock is None:
        return RowError(
            line, f"stock must be a whole number from 0 to {MAX_STOCK}, not {_shorten(record['stock'])!r}"
        )
    details_json, refused = _details(record["details"])
    if refused:
        return RowError(line, refused)
    slug = _text(record.get("slug") or "") or _slugify(f"{name}-{sku}")[:200]
    if not SLUG_PATTERN.match(slug):
        return RowError(line, "slug must be 1-200 letters, digits, hyphens or underscores")
    is_active = _flag(record.get("is_active", True))
    if is_active is None:
        return RowError(line, f"is_active must be true or false, not {_shorten(record.get('is_active'))!r}")
    return ProductRow(line, sku, slug.lower(), name, category_id, price, stock, is_active, details_json)


def _text(value) -> str:
    if type(value) is str:
        return value.strip()
    return "" if value is None else str(value)


def _slugify(text: str) -> str:
    """Return a slug as Django's slugify() makes it (but for punctuation), several times faster."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return NOT_SLUG.sub("-", text.lower()).strip("-_")


def _shorten(value, limit: int = 40) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _price(value) -> Decimal | None:
    if isinstance(value, bool):
        return None  # a JSON true is not a price
    if isinstance(value, float):
        value = repr(value)
    try:
        price = Decimal(_text(value))
    except (InvalidOperation, ValueError):
        return None
    if not price.is_finite() or price < 0 or price > MAX_PRICE or price.as_tuple().exponent < -2:
        return None
    # In cents: "0E+2147483648" is a price of 0 to Python, and a number too large for PostgreSQL.
    return price.quantize(CENT)


def _stock(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        stock = value
    else:
        text = _text(value)
        if not re.fullmatch(r"\d{1,10}", text):
            return None
        stock = int(text)
    return stock if 0 <= stock <= MAX_STOCK else None


def _details(value) -> tuple[str | None, str | None]:
    """Return (the details as JSON text, None), or (None, the reason they are refused)."""
    try:
        if isinstance(value, dict):  # a .jsonl line's object, parsed with catalog.details' numbers
            details = details_checked(value)
        else:
            details = details_from_json(_text(value) or "{}")
    except DetailsRefused as refused:
        return None, refused.reason
    # Written again from what was checked, never as the file had it: jsonb refuses numbers that
    # Python reads (1.000... with 20,000 zeros, 0e-99999), and a float's repr is one it takes.
    text = details_json(details)
    # Measured as written: escapes in the file may be shorter than what they stand for.
    if len(text) > MAX_DETAILS_CHARS:
        return None, f"details larger than {MAX_DETAILS_CHARS // 1024} KB"
    return text, None


def _flag(value) -> bool | None:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in TRUE_WORDS or text == "":
        return True
    if text in FALSE_WORDS:
        return False
    return None
