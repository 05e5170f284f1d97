"""Each app owns its tables: no module of accounts or reports writes a catalog model.

Reads may cross apps; writes go through the catalog's services. The check reads the source:
an ORM call chain `Product.objects...<write>()` or `Category.objects...<write>()`, or an SQL string
that writes `catalog_product` or `catalog_category`. Writes through instances (`product.save()`)
or related managers are out of its reach: review catches those.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CATALOG_MODELS = {"Product", "Category"}
WRITE_METHODS = {
    "bulk_create",
    "bulk_update",
    "create",
    "delete",
    "get_or_create",
    "select_for_update",  # a lock is taken to write
    "update",
    "update_or_create",
}
CATALOG_TABLE = re.compile(r"\bcatalog_(product|category)\b", re.IGNORECASE)
SQL_WRITE = re.compile(r"\b(INSERT|UPDATE|DELETE|TRUNCATE|COPY)\b", re.IGNORECASE)


def _catalog_writes(source: str) -> list[str]:
    """Return 'line N: what' for each write of a catalog model found in `source`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in WRITE_METHODS
            and _model_of_chain(node.func.value) in CATALOG_MODELS
        ):
            found.append(f"line {node.lineno}: {ast.unparse(node.func)}()")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and CATALOG_TABLE.search(node.value)
            and SQL_WRITE.search(node.value)
        ):
            found.append(f"line {node.lineno}: SQL {node.value.strip()[:60]!r}")
    return found


def _model_of_chain(node: ast.expr) -> str | None:
    """Return `Model` for a chain `Model.objects.filter(...)...`, else None."""
    while isinstance(node, ast.Call | ast.Attribute):
        if isinstance(node, ast.Attribute) and node.attr == "objects" and isinstance(node.value, ast.Name):
            return node.value.id
        node = node.func if isinstance(node, ast.Call) else node.value
    return None


def _modules() -> list[Path]:
    return sorted(
        path
        for app in ("accounts", "reports")
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts
    )


@pytest.mark.parametrize("path", _modules(), ids=lambda path: str(path.relative_to(ROOT)))
def test_module_writes_no_catalog_model(path):
    assert _catalog_writes(path.read_text()) == []


@pytest.mark.parametrize(
    "source",
    [
        "Product.objects.filter(pk__in=ids).update(stock=F('stock') - 1)",
        "Category.objects.bulk_create(categories)",
        "Product.objects.select_for_update().filter(pk=1)",
        "cursor.execute('TRUNCATE accounts_order, catalog_product')",
        "cursor.execute('UPDATE catalog_category SET name = %s', [name])",
    ],
)
def test_the_check_finds_a_write(source):
    assert _catalog_writes(source)


@pytest.mark.parametrize(
    "source",
    [
        "Product.objects.only('id', 'name').in_bulk(ids)",
        "Order.objects.filter(pk=1).update(status='shipped')",
        "cursor.execute('SELECT p.name FROM catalog_product p')",
    ],
)
def test_the_check_lets_reads_and_other_tables_pass(source):
    assert _catalog_writes(source) == []
