"""Input of the catalog pages: the product list's filters, sort and page, from the query string."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django import forms
from django.http import QueryDict

MAX_PRICE = Decimal("99999999.99")  # numeric(10, 2)
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

    def cache_key(self) -> str:
        """Return a key that is equal for equal filters (the sort does not change counts)."""
        attributes = ";".join(f"{key}={','.join(values)}" for key, values in sorted(self.attributes.items()))
        return f"{self.price_min}-{self.price_max}-{attributes}"

    def without(self, facet: str) -> ProductFilters:
        """Return these filters without one facet's values (for that facet's own counts)."""
        attributes = {key: values for key, values in self.attributes.items() if key != facet}
        return ProductFilters(self.price_min, self.price_max, attributes, self.sort)


class ProductFilterForm(forms.Form):
    """The query string of a category page. Keys that are not fields or facets are ignored."""

    price_min = forms.DecimalField(
        required=False, min_value=0, max_value=MAX_PRICE, decimal_places=2, label="Min price"
    )
    price_max = forms.DecimalField(
        required=False, min_value=0, max_value=MAX_PRICE, decimal_places=2, label="Max price"
    )
    sort = forms.ChoiceField(required=False, choices=list(SORT_LABELS.items()))
    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)

    def __init__(self, data: QueryDict, *, facets: list[str]):
        super().__init__(data)
        self.facets = facets

    def clean(self):
        cleaned = super().clean()
        low, high = cleaned.get("price_min"), cleaned.get("price_max")
        if low is not None and high is not None and low > high:
            self.add_error("price_max", "The maximum price is below the minimum.")
        # Only the category's allow-listed facets are read: no other key reaches a query.
        attributes = {}
        for facet in self.facets:
            values = sorted({value.strip() for value in self.data.getlist(facet) if value.strip()})
            if len(values) > MAX_VALUES_PER_FACET:
                self.add_error(None, f"Choose at most {MAX_VALUES_PER_FACET} values of {facet}.")
            elif any(len(value) > MAX_VALUE_LENGTH or "\x00" in value for value in values):
                self.add_error(None, f"A {facet} value is too long or has characters it cannot have.")
            elif values:
                attributes[facet] = tuple(values)
        cleaned["attributes"] = attributes
        return cleaned

    def filters(self) -> ProductFilters:
        """Return the valid part of the filters (call after is_valid(); bad fields are left out)."""
        data = getattr(self, "cleaned_data", {})
        return ProductFilters(
            price_min=data.get("price_min"),
            price_max=data.get("price_max"),
            attributes=data.get("attributes", {}),
            sort=data.get("sort") or "price",
        )

    def page_number(self) -> int:
        return getattr(self, "cleaned_data", {}).get("page") or 1
