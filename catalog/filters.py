"""The filters of a product list, as plain values: what the form validates and the selectors read."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import Decimal

MAX_PAGE = 1_000
MAX_VALUES_PER_FACET = 20
MAX_VALUE_LENGTH = 100
# Bounds of a range filter's numbers: wider than any detail, narrow enough to compare exactly.
MAX_RANGE_NUMBER = Decimal("1e12")
RANGE_BUCKETS = 6  # at most, per numeric facet
MAX_QUERY_LENGTH = 100  # characters of a search; a longer one is a form error, not cut silently
MIN_QUERY_LENGTH = 2
# Words of a search (letters and digits of any script), for correcting a typo.
WORD = re.compile(r"\w+")
# Query-string names of the catalog pages' own fields: no facet may read one of these.
RESERVED_NAMES = frozenset({"q", "category", "price_min", "price_max", "sort", "page"})

# What customers may sort by, and the ORDER BY each means (id last, so pages never overlap).
SORTS = {
    "price": ("price", "id"),
    "-price": ("-price", "-id"),
    "name": ("name", "id"),
    "new": ("-created", "-id"),
}
SORT_LABELS = {"price": "Price, low to high", "-price": "Price, high to low", "name": "Name", "new": "Newest"}
# The search page sorts by relevance first (catalog.selectors.search_results).
SEARCH_SORT_LABELS = {"relevance": "Relevance", **SORT_LABELS}


def range_parameters(key: str) -> tuple[str, str]:
    """Return the query-string names of a range facet's bounds."""
    return f"{key}_min", f"{key}_max"


@dataclass(frozen=True)
class SearchTerms:
    """A search as the database reads it: `text` for websearch_to_tsquery (quotes, OR and -word
    keep their meaning there), `words` for correcting a typo: its words, letters and digits only;
    None when it has none, or when it uses that syntax (a customer who writes "-blue" or quotes
    asks for exactly that, not for what looks like it). None finds nothing when nothing matches in full."""

    text: str
    words: str | None

    @classmethod
    def of(cls, typed: str) -> SearchTerms:
        """Return the terms of a search as typed (already checked by the form)."""
        text = " ".join(typed.split())
        tokens = text.lower().split()
        if '"' in text or "or" in tokens or any(token.startswith("-") for token in tokens):
            return cls(text, None)
        words = " ".join(WORD.findall(text.replace("_", " ")))
        return cls(text, words or None)


@dataclass(frozen=True)
class Facet:
    """A facet a category declares (catalog.models.CategoryFacet), as the pages read it; a range
    facet carries the lowest and highest value of the category's active products (None: none)."""

    key: str
    label: str
    unit: str = ""
    kind: str = "choice"
    low: Decimal | None = None
    high: Decimal | None = None

    @property
    def is_range(self) -> bool:
        return self.kind == "range"

    def buckets(self) -> list[tuple[Decimal, Decimal]]:
        """Return this range facet's buckets: (from, to) both included, on round numbers."""
        if self.low is None or self.high is None:
            return []
        return range_buckets(self.low, self.high)


def range_buckets(low: Decimal, high: Decimal, *, most: int = RANGE_BUCKETS) -> list[tuple[Decimal, Decimal]]:
    """Return at most `most` buckets covering low..high, with edges on a round step (1, 2, 2.5 or
    5 times a power of ten): 8..64 GB gives 0-20, 20-40, 40-60, 60-80.

    Each bucket includes both its edges, as the range filter it links to does: a value on an edge
    is counted in both buckets, so each count is what its link shows.
    """
    if high <= low:
        return [(low, high)]
    exponent = math.floor(math.log10(float(high - low) / most))
    for power in (exponent, exponent + 1, exponent + 2):
        for multiple in ("1", "2", "2.5", "5"):
            step = Decimal(multiple).scaleb(power)
            first = (low / step).to_integral_value(rounding="ROUND_FLOOR")
            last = (high / step).to_integral_value(rounding="ROUND_CEILING")
            if last == first:
                last += 1
            if last - first <= most:
                return [((first + n) * step, (first + n + 1) * step) for n in range(int(last - first))]
    raise AssertionError("a step of 100 times the range/most always fits")  # pragma: no cover


@dataclass(frozen=True)
class ProductFilters:
    """The filters of a product list, validated: only allow-listed facets, values as text."""

    price_min: Decimal | None = None
    price_max: Decimal | None = None
    # facet -> the values asked for, sorted and without repeats (any of them matches)
    attributes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sort: str = "price"
    # range facet -> (lowest, highest), both included; either may be None
    ranges: dict[str, tuple[Decimal | None, Decimal | None]] = field(default_factory=dict)

    def cache_parts(self) -> tuple[object, ...]:
        """Return what names these filters' counts in a cache key (shopsite.caching.keys), equal
        for filters that match the same products: the sort, the order of a facet's values and a
        facet without values change nothing; numbers compare by value (1.0 is 1.00)."""
        attributes = {facet: frozenset(values) for facet, values in self.attributes.items() if values}
        ranges = {facet: bounds for facet, bounds in self.ranges.items() if bounds != (None, None)}
        return (self.price_min, self.price_max, attributes, ranges)

    def without(self, facet: str) -> ProductFilters:
        """Return these filters without one facet's values or range (for that facet's own counts)."""
        attributes = {key: values for key, values in self.attributes.items() if key != facet}
        ranges = {key: bounds for key, bounds in self.ranges.items() if key != facet}
        return ProductFilters(self.price_min, self.price_max, attributes, self.sort, ranges)

    @property
    def any(self) -> bool:
        """Return whether anything is filtered on (the sort aside)."""
        return bool(
            self.attributes or self.ranges or self.price_min is not None or self.price_max is not None
        )
