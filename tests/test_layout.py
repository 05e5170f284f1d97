"""The layout holds: imports flow catalog <- accounts <- reports, shopsite wires and imports no app,
the site never imports the local stack, no import cycle, selectors know no HTTP, no giant module.

Read from the source with `ast`, so a rule broken by a new file fails here, not in review.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("catalog", "accounts", "reports", "shopsite")
APP_ORDER = {"catalog": 0, "accounts": 1, "reports": 2}  # an app imports only from apps to its left
LOCAL_STACK = "shopsite.localstack"
HTTP_MODULES = ("django.http", "django.shortcuts", "django.forms", "django.views", "django.urls")
MAX_SHOPSITE_LINES = 400


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {
    _module_name(path): path
    for package in PACKAGES
    for path in sorted((ROOT / package).rglob("*.py"))
    if "migrations" not in path.parts
}


def _imports(path: Path, *, module_level_only: bool) -> set[str]:
    """Return the modules a file imports (for `from a import b`, a.b when that is a module, else a)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    nodes = _top_level(tree.body) if module_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from .x import y
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return found


def _top_level(body: list[ast.stmt]):
    """Yield the statements run at import time: not inside functions or classes, nor TYPE_CHECKING."""
    for node in body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        yield node
        if isinstance(node, ast.If | ast.Try | ast.With):
            for block in (node.body, getattr(node, "orelse", []), getattr(node, "finalbody", [])):
                yield from _top_level(block)
            for handler in getattr(node, "handlers", []):
                yield from _top_level(handler.body)


def _first_party(name: str) -> str | None:
    top = name.split(".")[0]
    return top if top in PACKAGES else None


def test_the_layout_is_read_from_every_package():
    assert {"catalog.selectors", "accounts.services", "reports.views", "shopsite.db.router"} <= set(MODULES)


@pytest.mark.parametrize("module", sorted(name for name in MODULES if _first_party(name) in APP_ORDER))
def test_an_app_imports_only_from_apps_to_its_left(module):
    app = module.split(".")[0]
    wrong = sorted(
        name
        for name in _imports(MODULES[module], module_level_only=False)
        if _first_party(name) in APP_ORDER and APP_ORDER[_first_party(name)] > APP_ORDER[app]
    )
    assert wrong == [], f"{module} imports {wrong}: imports flow catalog <- accounts <- reports"


@pytest.mark.parametrize("module", sorted(name for name in MODULES if name.startswith("shopsite")))
def test_shopsite_imports_no_app_at_module_level(module):
    apps = sorted(
        name for name in _imports(MODULES[module], module_level_only=True) if _first_party(name) in APP_ORDER
    )
    assert apps == [], f"{module} imports {apps} at module level: shopsite wires, the apps build on it"


@pytest.mark.parametrize("module", sorted(name for name in MODULES if not name.startswith(LOCAL_STACK)))
def test_the_site_never_imports_the_local_stack(module):
    stack = sorted(
        name
        for name in _imports(MODULES[module], module_level_only=False)
        if name == LOCAL_STACK or name.startswith(f"{LOCAL_STACK}.")
    )
    assert stack == [], f"{module} imports the local stack, a development tool"


@pytest.mark.parametrize("module", sorted(name for name in MODULES if name.startswith(LOCAL_STACK)))
def test_the_local_stack_uses_the_standard_library_only(module):
    # It runs before the virtualenv exists (`make` starts the stack first).
    outside = sorted(
        name
        for name in _imports(MODULES[module], module_level_only=False)
        if name.split(".")[0] not in sys.stdlib_module_names and not name.startswith(LOCAL_STACK)
    )
    assert outside == [], f"{module} imports {outside}"


def test_no_import_cycle():
    graph = {
        module: {
            name for name in _imports(path, module_level_only=True) if name in MODULES and name != module
        }
        for module, path in MODULES.items()
    }
    visiting, done = [], set()

    def visit(module: str) -> None:
        if module in done:
            return
        if module in visiting:
            cycle = [*visiting[visiting.index(module) :], module]
            pytest.fail(f"import cycle: {' -> '.join(cycle)}")
        visiting.append(module)
        for imported in sorted(graph[module]):
            visit(imported)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)


@pytest.mark.parametrize("module", sorted(name for name in MODULES if name.endswith(".selectors")))
def test_selectors_know_no_http(module):
    app = module.split(".")[0]
    http = sorted(
        name
        for name in _imports(MODULES[module], module_level_only=False)
        if name.startswith(HTTP_MODULES) or name in {f"{app}.forms", f"{app}.views"}
    )
    assert http == [], f"{module} imports {http}: selectors take plain values, views translate"


@pytest.mark.parametrize("module", sorted(name for name in MODULES if name.startswith("shopsite")))
def test_no_shopsite_module_is_a_giant(module):
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_SHOPSITE_LINES, f"{module} has {lines} lines: split it by what it does"
