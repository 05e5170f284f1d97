"""The catalog pages' repeated parts (a product card, a facet's checkbox), built in Python.

A category page repeats a card per product and a checkbox per facet value: some 250 template
variables and tags, each a few microseconds in Django's template engine, which made the whole
rendered page cost ten times a hello-world request. The same markup built here with f-strings
takes a twentieth of the time (bench/results/latest.md, "The rendered page"). Everything else of
the pages stays in templates; these are used through the `shop` template tags.

Every text from the database goes through `escape`, as the template engine's autoescaping would
have done; prices are written as everywhere else, by shopsite.money ("$1,299.00"). Links come
from shopsite.links.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from html import escape

from django.utils.safestring import SafeString, mark_safe

from shopsite.links import path_to
from shopsite.money import money

LOW_STOCK = 5
DASH = "\N{EN DASH}"  # between the ends of a range: "20 to 40 GB" as 20, a dash, 40 GB


def stock_state(stock: int) -> tuple[str, str]:
    """Return what a customer reads about a stock level, and its CSS class."""
    if stock <= 0:
        return "Out of stock", "stock-out"
    if stock <= LOW_STOCK:
        return f"Only {stock} left", "stock-low"
    return "In stock", "stock-in"


def price(value: Decimal) -> str:
    return escape(money(value))


def _field(item, name: str):
    """An item's field: a model instance's attribute or a dict's key (`values()` rows)."""
    return item[name] if isinstance(item, dict) else getattr(item, name)


def product_cards(products: Iterable, *, stock: bool = False, category: bool = False) -> SafeString:
    """Return a card per product: its name linking to its page, its price, and its stock state or
    its category's name if asked."""
    cards = []
    for product in products:
        url = path_to("catalog:product", _field(product, "slug"))
        lines = [f'<a href="{escape(url)}"><span class="name">{escape(_field(product, "name"))}</span></a>']
        if category:
            lines.append(f'<span class="muted">{escape(_field(product, "category__name"))}</span>')
        shown = f'<span class="price">{price(_field(product, "price"))}</span>'
        if stock:
            label, css = stock_state(_field(product, "stock"))
            shown += f' · <span class="{css}">{label}</span>'
        lines.append(shown)
        cards.append(f'<li class="card">{"<br>".join(lines)}</li>')
    return mark_safe("\n".join(cards))


def facet_options(facet: str, values: Iterable[tuple[str, int]], chosen: Iterable[str]) -> SafeString:
    """Return a checkbox per value of a facet, with how many products it would show; the values
    chosen are checked."""
    chosen = set(chosen)
    name = escape(facet)
    options = [
        f'<label><input type="checkbox" name="{name}" value="{escape(value)}"'
        f'{" checked" if value in chosen else ""}> {escape(value)} <span class="count">{count}</span></label>'
        for value, count in values
    ]
    return mark_safe("\n".join(options))


def range_filter(facet, links: Iterable[tuple[str, object]], chosen: tuple) -> SafeString:
    """Return a range facet's "from" and "to" number boxes (the chosen bounds filled in) and a link
    per bucket ((link, catalog.selectors.Bucket) pairs) with how many products it would show."""
    low_name, high_name = (escape(f"{facet.key}_{end}") for end in ("min", "max"))
    low, high = (escape(number_text(value)) for value in chosen)
    unit = f" {escape(facet.unit)}" if facet.unit else ""
    parts = [
        '<div class="range-inputs">'
        f'<label for="id_{low_name}">From</label>'
        f'<input type="number" step="any" name="{low_name}" id="id_{low_name}" value="{low}">'
        f'<label for="id_{high_name}">To</label>'
        f'<input type="number" step="any" name="{high_name}" id="id_{high_name}" value="{high}">'
        "</div>"
    ]
    buckets = [
        f'<li><a href="{escape(link)}">{escape(number_text(bucket.low))}{DASH}'
        f'{escape(number_text(bucket.high))}{unit}</a> <span class="count">{bucket.count}</span></li>'
        for link, bucket in links
    ]
    if buckets:
        parts.append(f'<ul class="buckets" role="list">{"".join(buckets)}</ul>')
    return mark_safe("\n".join(parts))


def number_text(value: Decimal | None) -> str:
    """Return a number as a customer types it: 20 rather than 2E+1, 13.5 rather than 13.50."""
    return "" if value is None else format(value.normalize(), "f")


def hidden_inputs(fields: Iterable[tuple[str, str]]) -> SafeString:
    """Return a hidden input per (name, value)."""
    inputs = (
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">' for name, value in fields
    )
    return mark_safe("".join(inputs))
