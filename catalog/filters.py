"""The filters of a product list, as plain values: what the form validates and the selectors read."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

MAX_PAGE = 1_000
MAX_VALUES_PER_FACET = 20
MAX_VALUE_LENGTH = 100

# What customers may sort by, and the ORDER BY each means (id last, so pages never overlap).
SORTS = {
    "price": ("price", "id"),
    "-price": ("-price", "-id"),
    "name": ("name", "id"),
    "new": ("-created", "-id"),
}
SORT_LABELS = {"price": "Price, low to high", "-price": "Price, high to low", "name": "Name", "new": "Newest"}


@dataclass(frozen=True)
class ProductFilters:
    """The filters of a product list, validated: only allow-listed facets, values as text."""

    price_min: Decimal | None = None
    price_max: Decimal | None = None
    # facet -> the values asked for, sorted and without repeats (any of them matches)
    attributes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sort: str = "price"

    def cache_parts(self) -> tuple[object, ...]:
        """Return what names these filters' counts in a cache key (shopsite.caching.keys), equal
        for filters that match the same products: the sort, the order of a facet's values and a
        facet without values change nothing; prices compare by value (1.0 is 1.00)."""
        attributes = {facet: frozenset(values) for facet, values in self.attributes.items() if values}
        return (self.price_min, self.price_max, attributes)

    def without(self, facet: str) -> ProductFilters:
        """Return these filters without one facet's values (for that facet's own counts)."""
        attributes = {key: values for key, values in self.attributes.items() if key != facet}
        return ProductFilters(self.price_min, self.price_max, attributes, self.sort)
