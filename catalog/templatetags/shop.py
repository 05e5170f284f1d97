"""Template helpers of the shop's pages: query-string links, stock states, details tables, and
the repeated parts of the catalog pages (catalog.fragments)."""

from collections.abc import Sequence
from decimal import Decimal

from django import template
from django.http import QueryDict
from django.utils.safestring import SafeString, mark_safe

from catalog import fragments
from catalog.details import MAX_DETAILS_DEPTH
from catalog.filters import Facet, ProductFilters, range_parameters
from shopsite.money import money

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


@register.simple_tag(takes_context=True)
def range_filter(context, facet: Facet, buckets, filters: ProductFilters) -> SafeString:
    """{% range_filter facet buckets filters %}: a range facet's from and to boxes, and a link per
    bucket with how many products it would show (catalog.fragments)."""
    low_name, high_name = range_parameters(facet.key)
    links = []
    for bucket in buckets or ():
        query: QueryDict = context["request"].GET.copy()
        query[low_name], query[high_name] = number_text(bucket.low), number_text(bucket.high)
        query.pop("page", None)
        links.append((f"?{query.urlencode()}", bucket))
    return fragments.range_filter(facet, links, filters.ranges.get(facet.key, (None, None)))


@register.simple_tag(takes_context=True)
def filter_chips(context, facets: Sequence[Facet], filters: ProductFilters) -> list[tuple[str, str]]:
    """Return a (text, link removing it) per active filter: each value of a choice facet, each
    range, each price bound."""
    labels = {facet.key: facet for facet in facets or ()}
    chips = []
    for key, values in filters.attributes.items():
        for value in values:
            chips.append((f"{labels[key].label}: {value}", query_without(context, key, value)))
    for key, (low, high) in filters.ranges.items():
        facet = labels[key]
        unit = f" {facet.unit}" if facet.unit else ""
        shown = {
            (True, True): f"{number_text(low)}{fragments.DASH}{number_text(high)}{unit}",
            (True, False): f"from {number_text(low)}{unit}",
            (False, True): f"up to {number_text(high)}{unit}",
        }[(low is not None, high is not None)]
        low_name, high_name = range_parameters(key)
        chips.append(
            (
                f"{facet.label}: {shown}",
                query_with(context, **{low_name: None, high_name: None, "page": None}),
            )
        )
    if filters.price_min is not None:
        chips.append((f"From {money(filters.price_min)}", query_with(context, price_min=None, page=None)))
    if filters.price_max is not None:
        chips.append((f"Up to {money(filters.price_max)}", query_with(context, price_max=None, page=None)))
    return chips


@register.filter
def number_text(value: Decimal | None) -> str:
    """Return a number as a customer types it: 20 rather than 2E+1, 13.5 rather than 13.50."""
    return fragments.number_text(value)


@register.filter
def detail_rows(details: dict, facets: Sequence[Facet] = ()) -> list[tuple[str, str]]:
    """Return the rows of a details table: the category's facets first, in their order, with their
    labels and units ("RAM", "16 GB"); then the other details, nested objects flattened as
    "Specs › Wifi".

    At most MAX_DETAILS_DEPTH levels are shown, deeper ones as "…": details written to the
    database around the import's and the admin's checks may nest deeper than Python can recurse.
    """
    rows = []
    declared = {facet.key: facet for facet in facets or ()}
    for facet in facets or ():
        value = details.get(facet.key)
        if value is not None and not isinstance(value, dict):
            rows.append((facet.label, _with_unit(_detail_text(value, depth=2), value, facet.unit)))
    others = {key: value for key, value in details.items() if key not in declared or isinstance(value, dict)}
    _add_detail_rows(rows, others, prefix="", depth=1)
    return rows


def _with_unit(text: str, value, unit: str) -> str:
    """Return a detail's text with its facet's unit after a number ("16 GB")."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        text = f"{value:,}"
        return f"{text} {unit}" if unit else text
    return text


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


@register.simple_tag
def filter_inputs(filters: ProductFilters, **extra) -> SafeString:
    """Return hidden inputs carrying the filters (and `extra` fields, such as the search) into
    another form of the page: the sort's."""
    fields = [(key, value) for key, values in filters.attributes.items() for value in values]
    for key, bounds in filters.ranges.items():
        names = range_parameters(key)
        fields += [(name, number_text(bound)) for name, bound in zip(names, bounds, strict=True)]
    fields += [("price_min", number_text(filters.price_min)), ("price_max", number_text(filters.price_max))]
    fields += [(name, value) for name, value in extra.items()]
    return fragments.hidden_inputs((name, value) for name, value in fields if value not in (None, ""))


@register.simple_tag(takes_context=True)
def search_in_category(context, slug: str) -> str:
    """Return the link of the same search in one category: its facets then apply, others' do not."""
    query: QueryDict = context["request"].GET.copy()
    kept = QueryDict(mutable=True)
    for name in ("q", "price_min", "price_max", "sort"):
        if name in query:
            kept.setlist(name, query.getlist(name))
    kept["category"] = slug
    return "?" + kept.urlencode()
