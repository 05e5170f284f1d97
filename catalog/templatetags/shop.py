"""Template helpers of the shop's pages: query-string links, stock states, details tables."""

from django import template
from django.http import QueryDict

register = template.Library()

LOW_STOCK = 5


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
    if stock <= 0:
        return {"label": "Out of stock", "css": "stock-out"}
    if stock <= LOW_STOCK:
        return {"label": f"Only {stock} left", "css": "stock-low"}
    return {"label": "In stock", "css": "stock-in"}


@register.filter
def detail_rows(details: dict, prefix: str = "") -> list[tuple[str, str]]:
    """Return the rows of a details table: nested objects flattened as "Specs › Ram gb"."""
    rows = []
    for key, value in details.items():
        label = f"{prefix}{str(key).replace('_', ' ').capitalize()}"
        if isinstance(value, dict):
            rows.extend(detail_rows(value, prefix=f"{label} › "))
        elif isinstance(value, bool):
            rows.append((label, "Yes" if value else "No"))
        elif isinstance(value, list):
            rows.append((label, ", ".join(map(str, value))))
        elif value is not None:
            rows.append((label, str(value)))
    return rows


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
