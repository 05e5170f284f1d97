"""Input of the catalog pages: the product list's filters, sort and page, from the query string."""

from __future__ import annotations

from django import forms
from django.http import QueryDict

from catalog.filters import MAX_PAGE, MAX_VALUE_LENGTH, MAX_VALUES_PER_FACET, SORT_LABELS, ProductFilters
from catalog.models import MAX_PRICE


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
