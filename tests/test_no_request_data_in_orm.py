"""No code passes request data as ORM field names: scanned with `ast`, over every module of the apps.

Request data as a *value* (`filter(price__gte=...)`) is what forms and the ORM are for. As a *name*
(`filter(**request.GET)`, `order_by(request.GET["sort"])`, `values(...)`, `annotate(...)`), it lets
a visitor pick any column, relation or lookup: `?customer__user__password__startswith=a` reads
password hashes one character at a time. Request data reaches a name only through an allow-list
(catalog.filters.SORTS, the facets a category declares), never directly.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

SCANNED_APPS = ("catalog", "accounts", "reports", "shopsite")
REQUEST_ATTRIBUTES = {"GET", "POST", "COOKIES", "headers", "META", "FILES", "body", "data", "query_params"}
# ORM calls whose keyword *names* are field paths: `**` of request data is refused.
KEYWORD_NAME_CALLS = {"filter", "exclude", "get", "get_or_create", "update_or_create", "create", "update"}
# ORM calls whose arguments are field paths or SQL: any request data in them is refused.
NAME_ARGUMENT_CALLS = {
    "order_by",
    "values",
    "values_list",
    "annotate",
    "alias",
    "aggregate",
    "extra",
    "raw",
    "only",
    "defer",
    "distinct",
    "select_related",
    "prefetch_related",
}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    call: str

    def __str__(self):
        return f"{self.path}:{self.line}: request data passed as field names to .{self.call}()"


def _is_request(node: ast.expr) -> bool:
    """Return whether the node is `request` or `<anything>.request` (self.request in a class view)."""
    return (isinstance(node, ast.Name) and node.id == "request") or (
        isinstance(node, ast.Attribute) and node.attr == "request"
    )


def _is_form(node: ast.AST) -> bool:
    """Return whether the node builds a form (`SomethingForm(request.GET)`): its output is validated."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    return name.endswith("Form")


def _walk_outside_forms(node: ast.AST):
    """Yield the node and its descendants, but not the insides of a form being built."""
    yield node
    if not _is_form(node):
        for child in ast.iter_child_nodes(node):
            yield from _walk_outside_forms(child)


def _reads_request_data(node: ast.AST, tainted: set[str]) -> bool:
    """Return whether the expression reads request data: request.GET & co., or a name assigned from it.

    Request data handed to a form is not followed: what comes out of a form is what it validated.
    """
    for child in _walk_outside_forms(node):
        if isinstance(child, ast.Attribute) and child.attr in REQUEST_ATTRIBUTES and _is_request(child.value):
            return True
        if isinstance(child, ast.Name) and child.id in tainted:
            return True
    return False


def _assigned_names(target: ast.AST) -> set[str]:
    return {node.id for node in ast.walk(target) if isinstance(node, ast.Name)}


def _tainted_names(function: ast.AST) -> set[str]:
    """Return the local names that hold request data, following assignments until nothing changes."""
    tainted: set[str] = set()
    while True:
        before = len(tainted)
        for node in ast.walk(function):
            if isinstance(node, ast.Assign) and _reads_request_data(node.value, tainted):
                for target in node.targets:
                    tainted |= _assigned_names(target)
            elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.NamedExpr) and node.value is not None:
                if _reads_request_data(node.value, tainted):
                    tainted |= _assigned_names(node.target)
            elif isinstance(node, ast.For | ast.comprehension) and _reads_request_data(node.iter, tainted):
                tainted |= _assigned_names(node.target)
        if len(tainted) == before:
            return tainted


def scan_source(source: str, path: str = "<source>") -> list[Finding]:
    """Return every call in the source that passes request data as ORM field names."""
    tree = ast.parse(source)
    findings = []
    scopes = [
        tree,
        *(node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)),
    ]
    for scope in scopes:
        tainted = _tainted_names(scope)
        for node in ast.walk(scope):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            name = node.func.attr
            if name in KEYWORD_NAME_CALLS:
                spread = [keyword.value for keyword in node.keywords if keyword.arg is None]
                if any(_reads_request_data(value, tainted) for value in spread):
                    findings.append(Finding(path, node.lineno, name))
            elif name in NAME_ARGUMENT_CALLS:
                arguments = [*node.args, *(keyword.value for keyword in node.keywords)]
                if any(_reads_request_data(argument, tainted) for argument in arguments):
                    findings.append(Finding(path, node.lineno, name))
    return sorted(set(findings), key=lambda finding: (finding.path, finding.line))


def app_modules() -> list[Path]:
    base = Path(settings.BASE_DIR)
    return sorted(path for app in SCANNED_APPS for path in (base / app).rglob("*.py"))


def test_the_scan_reads_every_module_of_the_apps():
    modules = {str(path.relative_to(settings.BASE_DIR)) for path in app_modules()}

    assert {"catalog/views.py", "accounts/views.py", "reports/admin.py", "shopsite/db/health.py"} <= modules
    assert len(modules) > 30


def test_no_module_passes_request_data_as_orm_field_names():
    findings = []
    for path in app_modules():
        findings += scan_source(path.read_text(), str(path.relative_to(settings.BASE_DIR)))

    assert not findings, "\n".join(map(str, findings))


# --- The scanner itself: it catches what it is for, and lets values through -------------------

PLANTED = {
    "filter(**GET)": "Product.objects.filter(**request.GET.dict())",
    "exclude(**POST)": "Product.objects.exclude(**request.POST)",
    "get(**COOKIES)": "User.objects.get(**request.COOKIES)",
    "filter(**dict built from GET)": "Product.objects.filter(**{request.GET['key']: 1})",
    "order_by(GET)": "products.order_by(request.GET['sort'])",
    "order_by(*GET list)": "products.order_by(*request.GET.getlist('sort'))",
    "values(GET)": "products.values(request.GET.get('column'))",
    "values_list(headers)": "products.values_list(request.headers['X-Column'], flat=True)",
    "annotate(**GET)": "products.annotate(**{request.GET['name']: F('price')})",
    "extra(where=GET)": "products.extra(where=[request.GET['where']])",
    "raw(POST)": "Product.objects.raw(request.POST['sql'])",
    "raw(META)": "Product.objects.raw('SELECT 1 WHERE ' + request.META['QUERY_STRING'])",
    "self.request in a class view": "self.get_queryset().order_by(self.request.GET['o'])",
    "through a local name": "params = request.GET.dict()\nProduct.objects.filter(**params)",
    "through two local names": "raw = request.GET\nsort = raw.get('s')\nproducts.order_by(sort)",
    "through a loop": "for key in request.GET:\n    products = products.order_by(key)",
    "through str()": "column = str(request.GET['c'])\nproducts.values(column)",
    "a form's raw data": "form = ProductFilterForm(request.GET)\nproducts.order_by(request.GET['o'])",
}
ALLOWED = {
    "a value from GET": "Product.objects.filter(price__gte=request.GET.get('min'))",
    "an allow-listed sort": "products.order_by(*SORTS[form.cleaned_data['sort']])",
    "a dict .get": "request.GET.get('page')",
    "a form's cleaned data": "Product.objects.filter(**form.cleaned_data)",
    "a sort validated by a form": (
        "form = ProductFilterForm(request.GET, facets=facets)\n"
        "products.order_by(*SORTS[form.cleaned_data['sort']])"
    ),
    "containment of a validated facet": "products.filter(details__contains={facet: value})",
}


def _in_a_view(body: str) -> str:
    return "def view(request):\n" + textwrap.indent(body, "    ") + "\n"


@pytest.mark.parametrize("snippet", PLANTED.values(), ids=PLANTED.keys())
def test_the_scanner_catches_a_planted_bad_snippet(snippet):
    findings = scan_source(_in_a_view(snippet), "planted.py")

    assert findings, f"the scanner let through: {snippet}"
    assert str(findings[0]).startswith("planted.py:")


@pytest.mark.parametrize("snippet", ALLOWED.values(), ids=ALLOWED.keys())
def test_the_scanner_lets_request_values_and_allow_lists_through(snippet):
    assert scan_source(_in_a_view(snippet)) == []
