"""Any product file, however broken, is imported whole, refused line by line, or refused whole.

Hypothesis writes .csv and .jsonl files whose every field may be hostile: JSON that Python reads
but PostgreSQL refuses (NaN, 1e400, lone surrogates, \\u0000, nesting thousands deep, integers
of thousands of digits), NUL bytes, quotes, newlines, huge and empty values, and sometimes a byte
that is not UTF-8. Each file is imported by the command against the real database. Expected: a
CommandError or a summary, never another exception; when refused, nothing written; when written,
every line counted once, and every product readable and its page shown.
"""

import csv
import io
import json
import re
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.models import Product
from tests.conftest import fuzz_examples
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

COLUMNS = ("sku", "name", "category", "price", "stock", "details", "slug", "is_active")
SUMMARY = re.compile(r"(\d+) created, (\d+) updated, (\d+) unchanged, (\d+) rejected")
ERROR_LINE = re.compile(r"^products\.(csv|jsonl): (near )?line \d+: |^\.\.\. and \d+ more bad lines$")

# JSON text that Python's json module reads, and much of which PostgreSQL's jsonb refuses.
NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(
        [
            "NaN",
            "Infinity",
            "-Infinity",
            "1e400",
            "-1e400",
            "1e-400",
            "0e-400",
            "-0",
            "-0.0",
            "1E+308",
            "9" * 5000,
            "-" + "9" * 25,
            "9223372036854775807",
            "-9223372036854775808",
            "5e-324",
            "0." + "0" * 20_000,
            "1." + "0" * 20_000,
            "0e-99999",
            "0e+2147483648",
            "1" + "0" * 400 + ".5",
        ]
    ),
)
TEXTS = st.one_of(
    st.text(max_size=20).map(json.dumps),
    st.sampled_from(['"\\ud800"', '"x\\udfff"', '"\\udc00\\ud800"', '"\\u0000"', '"r\\u0000ed"', '""']),
    st.just(json.dumps("x" * 70_000)),
)
SCALARS = st.one_of(NUMBERS, TEXTS, st.sampled_from(["true", "false", "null"]))
JSON_TEXT = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
        st.lists(st.tuples(TEXTS, children), max_size=3).map(
            lambda pairs: "{" + ", ".join(f"{key}: {value}" for key, value in pairs) + "}"
        ),
    ),
    max_leaves=8,
)
DEEP_JSON = st.tuples(st.integers(min_value=1, max_value=3_000), st.sampled_from(["{", "["])).map(
    lambda shape: (
        ('{"a": ' * shape[0] + "1" + "}" * shape[0])
        if shape[1] == "{"
        else ('{"a": ' + "[" * shape[0] + "]" * shape[0] + "}")
    )
)
DETAILS = st.one_of(
    st.lists(st.tuples(TEXTS, JSON_TEXT), max_size=4).map(
        lambda pairs: "{" + ", ".join(f"{key}: {value}" for key, value in pairs) + "}"
    ),
    JSON_TEXT,
    DEEP_JSON,
    st.sampled_from(["{}", "", "null", "{oops", '{"color": "red"}']),
)
HOSTILE_TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", " ", "\x00", "a\x00b", "'\";--", "\\.", "a\nb", "a\r\nb", '"', "x" * 300, "\ud800"]),
)


def _field(valid: str, *more: st.SearchStrategy) -> st.SearchStrategy:
    """Return a strategy for one field as CSV text: mostly `valid`, else hostile."""
    return st.one_of(st.just(valid), st.just(valid), *more, HOSTILE_TEXT)


ROWS = st.lists(
    st.fixed_dictionaries(
        {
            "sku": _field("SK-1", st.sampled_from(["SK-2", "SK-3", "OLD"])),
            "name": _field("Shirt"),
            "category": _field("shirts", st.just("hats")),
            "price": _field("9.99", NUMBERS),
            "stock": _field("3", NUMBERS),
            "details": DETAILS,
            "slug": _field("", st.sampled_from(["shirt-a", "old-product", "SHIRT", "shirt a"])),
            "is_active": _field("true", st.sampled_from(["false", "maybe", "0"])),
        }
    ),
    min_size=1,
    max_size=4,
)
JSONL_NATIVE = {"price", "stock", "details"}  # written as JSON tokens; the others as JSON strings


def _csv_file(rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    writer.writerows([row[column] for column in COLUMNS] for row in rows)
    return buffer.getvalue().encode("utf-8", "surrogatepass")


def _jsonl_file(rows: list[dict]) -> bytes:
    lines = []
    for row in rows:
        fields = []
        for column in COLUMNS:
            value = row[column]
            raw = column in JSONL_NATIVE and value.strip() and not {"\n", "\r"} & set(value)
            token = value if raw else json.dumps(value)  # one line per row, as the counts assume
            fields.append(f"{json.dumps(column)}: {token}")
        lines.append("{" + ", ".join(fields) + "}")
    return "\n".join(lines).encode("utf-8", "surrogatepass") + b"\n"


@pytest.fixture
def shop():
    CategoryFactory(slug="shirts")
    ProductFactory(sku="OLD", slug="old-product", details={"color": "blue"})


def _table() -> list[tuple]:
    columns = ("sku", "slug", "name", "price", "stock", "details")
    return list(Product.objects.order_by("sku").values_list(*columns))


@settings(
    max_examples=fuzz_examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=ROWS,
    kind=st.sampled_from(["csv", "jsonl"]),
    options=st.lists(st.sampled_from(["--skip-invalid", "--dry-run"]), unique=True),
)
def test_any_product_file_is_imported_or_refused_by_line_without_a_traceback(
    client, tmp_path, shop, rows, kind, options
):
    path = tmp_path / f"products.{kind}"
    path.write_bytes(_csv_file(rows) if kind == "csv" else _jsonl_file(rows))
    cache.clear()
    out, err = StringIO(), StringIO()
    # Each example in a savepoint rolled back after it, so every one starts from the same table.
    with transaction.atomic():
        before = _table()
        try:
            call_command("import_products", str(path), *options, stdout=out, stderr=err)
            refusal = None
        except CommandError as refused:
            refusal = str(refused)
        after = _table()  # every stored details value reads back into Python
        if refusal or "--dry-run" in options:
            assert after == before, f"refused ({refusal}) but written"
        else:
            for (slug,) in Product.objects.filter(is_active=True).values_list("slug"):
                assert client.get(f"/p/{slug}/").status_code == 200
        transaction.set_rollback(True)

    for line in err.getvalue().splitlines():
        assert ERROR_LINE.match(line), line
    if refusal is None:  # every line counted once
        created, updated, unchanged, rejected = map(int, SUMMARY.search(out.getvalue()).groups())
        assert created + updated + unchanged + rejected == len(rows)
        assert rejected == 0 or "--skip-invalid" in options
    elif "bad lines" in refusal:
        assert 1 <= int(refusal.split()[0]) <= len(rows)
