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

import colorsys
import hashlib
from collections.abc import Iterable
from decimal import Decimal
from functools import lru_cache
from html import escape
from urllib.parse import quote

from django.core.files.storage import default_storage
from django.utils.safestring import SafeString, mark_safe

from catalog.pictures import picture_widths, thumbnail_name
from shopsite.links import path_to
from shopsite.money import money

LOW_STOCK = 5
# How wide a picture is shown where, for the browser to pick a thumbnail from `srcset` before any
# CSS (shop.css, "Pictures"): a card is a third of the page's column on a desktop and about 40% of a
# phone's screen (two a row); the product page's picture half the page, a phone's width; a cart
# line's, 4rem.
PICTURE_SIZES = {
    "card": "(max-width: 480px) 40vw, 260px",
    "page": "(max-width: 760px) calc(100vw - 2rem), 540px",
    "line": "4rem",
}
# The cards above the fold load at once; the others when scrolled near.
EAGER_CARDS = 4
# A placeholder's size: the 4:3 of the cards' and the product page's frames.
PLACEHOLDER_SIZE = (400, 300)
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
    """Return a card per product: its picture and name linking to its page, its price, and its
    stock state or its category's name if asked."""
    cards = []
    for n, product in enumerate(products):
        url = path_to("catalog:product", _field(product, "slug"))
        picture = product_picture(product, shown="card", lazy=n >= EAGER_CARDS)
        name = escape(_field(product, "name"))
        lines = [f'<a href="{escape(url)}">{picture}<span class="name">{name}</span></a>']
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


def product_picture(product, *, shown: str, lazy: bool = False) -> str:
    """Return a product's picture as an <img>, `shown` on a "card", a "page" or a cart "line" (the
    `sizes` of PICTURE_SIZES, and a CSS class): its thumbnails in `srcset`, with the picture's
    width and height (its proportions: the page does not move as it loads) and its alt text; a
    placeholder for a product without one.

    `product` is a model instance or a `values()` row with its name and the picture's columns
    (catalog.selectors.PICTURE_COLUMNS).
    """
    # A row read without the picture's columns shows the placeholder (PICTURE_COLUMNS: read them).
    picture = product.get("picture") if isinstance(product, dict) else getattr(product, "picture", "")
    name = getattr(picture, "name", picture)  # a model's FieldFile, or a row's text
    classes = f"picture picture-{shown}"
    loading = ' loading="lazy"' if lazy else ""
    if not name:
        return (
            f'<img class="{classes} placeholder" src="{picture_placeholder(_field(product, "name"))}" '
            f'width="{PLACEHOLDER_SIZE[0]}" height="{PLACEHOLDER_SIZE[1]}" alt=""{loading}>'
        )
    width, height = _field(product, "picture_width"), _field(product, "picture_height")
    widths = picture_widths(width)
    urls = {each: escape(default_storage.url(thumbnail_name(name, each))) for each in widths}
    srcset = ", ".join(f"{url} {each}w" for each, url in urls.items())
    alt = escape(_field(product, "picture_alt") or _field(product, "name"))
    # src: for browsers without srcset, the thumbnail of a card on a desktop (or the largest one).
    fallback = urls[widths[1] if len(widths) > 1 else widths[0]]
    return (
        f'<img class="{classes}" src="{fallback}" srcset="{srcset}" sizes="{PICTURE_SIZES[shown]}" '
        f'width="{width}" height="{height}" alt="{alt}"{loading} decoding="async">'
    )


@lru_cache(maxsize=4096)
def picture_placeholder(name: str) -> str:
    """Return the placeholder of a product without a picture: an SVG data URI (the policy allows
    `data:` images) of its name's initial on a tint of a hue drawn from its name."""
    hue = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=2).digest()) / 65536
    tint, shade = (_hex(colorsys.hls_to_rgb(hue, *shades)) for shades in ((0.92, 0.45), (0.32, 0.45)))
    initial = next((character for character in name if character.isalnum()), "?").upper()
    width, height = PLACEHOLDER_SIZE
    svg = (
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}'>"
        f"<rect width='{width}' height='{height}' fill='{tint}'/>"
        f"<text x='50%' y='50%' dy='.35em' text-anchor='middle' font-family='system-ui,sans-serif' "
        f"font-size='{height // 2}' font-weight='700' fill='{shade}'>{escape(initial)}</text></svg>"
    )
    return "data:image/svg+xml," + quote(svg, safe="'=:/,.()-")


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(channel * 255):02x}" for channel in rgb)


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
