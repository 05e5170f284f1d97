"""Template helpers of the shop's pages: query-string links, stock states, details tables, and
the repeated parts of the catalog pages (catalog.fragments)."""

from django import template
from django.http import QueryDict
from django.utils.safestring import SafeString, mark_safe

from catalog import fragments
from catalog.details import MAX_DETAILS_DEPTH
from catalog.filters import ProductFilters

register = template.Library()


@register.simple_tag(takes_context=True)
def query_with(context, **changes) -> str:
    """Return the current query string with some keys set (a value of None removes the key)."""
    query: QueryDict = context["request"].GET.copy()
    for key, value in changes.items():
        query.pop(key, None)
        if value not in (None, ""):
            query[key] = value
    return "?" + query.urlencode() if query else "?"


@register.simple_tag(takes_context=True)
def query_without(context, key: str, value: str) -> str:
    """Return the current query string without one value of a key, back on the first page."""
    query: QueryDict = context["request"].GET.copy()
    query.setlist(key, [kept for kept in query.getlist(key) if kept.strip() != value])
    query.pop("page", None)
    return "?" + query.urlencode() if query else "?"


@register.filter
def stock_state(stock: int) -> dict:
    """Return what a customer reads about a stock level, and its CSS class."""
    label, css = fragments.stock_state(stock)
    return {"label": label, "css": css}


@register.simple_tag
def product_cards(products, *, stock: bool = False, category: bool = False) -> SafeString:
    """{% product_cards page stock=True %}: a card per product (catalog.fragments)."""
    return fragments.product_cards(products, stock=stock, category=category)


@register.simple_tag
def product_picture(product, shown: str) -> SafeString:
    """{% product_picture product "page" %}: the product's picture, or its placeholder (catalog.fragments)."""
    return mark_safe(fragments.product_picture(product, shown=shown))


@register.simple_tag
def facet_options(facet: str, values, filters: ProductFilters) -> SafeString:
    """{% facet_options facet values filters %}: a checkbox per value, the chosen ones checked."""
    return fragments.facet_options(facet, values, filters.attributes.get(facet, ()))


@register.filter
def detail_rows(details: dict) -> list[tuple[str, str]]:
    """Return the rows of a details table: nested objects flattened as "Specs › Ram gb".

    At most MAX_DETAILS_DEPTH levels are shown, deeper ones as "…": details written to the
    database around the import's and the admin's checks may nest deeper than Python can recurse.
    """
    rows = []
    _add_detail_rows(rows, details, prefix="", depth=1)
    return rows


def _add_detail_rows(rows: list[tuple[str, str]], details: dict, *, prefix: str, depth: int) -> None:
    for key, value in details.items():
        label = f"{prefix}{facet_label(str(key))}"
        if isinstance(value, dict) and depth < MAX_DETAILS_DEPTH:
            _add_detail_rows(rows, value, prefix=f"{label} › ", depth=depth + 1)
        elif value is not None:
            rows.append((label, _detail_text(value, depth=depth + 1)))


def _detail_text(value, *, depth: int) -> str:
    """Return a detail's value as a customer reads it; a list or an object past the limit as "…"."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list | dict) and depth > MAX_DETAILS_DEPTH:
        return "…"
    if isinstance(value, list):
        return ", ".join(_detail_text(item, depth=depth + 1) for item in value if item is not None)
    if isinstance(value, dict):
        return ", ".join(
            f"{facet_label(str(key))}: {_detail_text(item, depth=depth + 1)}"
            for key, item in value.items()
            if item is not None
        )
    return str(value)


@register.filter
def facet_label(name: str) -> str:
    return name.replace("_", " ").capitalize()


@register.filter
def dict_get(mapping: dict, key: str):
    return mapping.get(key, ())


@register.filter
def getattr_label(form, field: str) -> str:
    """Return "Label: " for a form field's error message."""
    return f"{form.fields[field].label or field}: " if field in form.fields else ""
