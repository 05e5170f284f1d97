"""Input of the catalog pages: the product list's filters, sort and page, and the search, from the
query string."""

from __future__ import annotations

from collections.abc import Sequence

from django import forms
from django.http import QueryDict

from catalog.filters import (
    MAX_PAGE,
    MAX_QUERY_LENGTH,
    MAX_RANGE_NUMBER,
    MAX_VALUE_LENGTH,
    MAX_VALUES_PER_FACET,
    MIN_QUERY_LENGTH,
    SORT_LABELS,
    Facet,
    ProductFilters,
    SearchTerms,
    range_parameters,
)
from catalog.models import MAX_PRICE


class ProductFilterForm(forms.Form):
    """The query string of a product list. Keys that are not fields or facets are ignored.

    A choice facet reads its key (`color=red&color=blue`); a range facet reads `<key>_min` and
    `<key>_max`, both included: field names that come from the category's declared facets, never
    from the query string.
    """

    price_min = forms.DecimalField(
        required=False, min_value=0, max_value=MAX_PRICE, decimal_places=2, label="Min price"
    )
    price_max = forms.DecimalField(
        required=False, min_value=0, max_value=MAX_PRICE, decimal_places=2, label="Max price"
    )
    sort = forms.ChoiceField(required=False, choices=list(SORT_LABELS.items()))
    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)

    def __init__(
        self,
        data: QueryDict,
        *,
        facets: Sequence[Facet],
        sorts: dict[str, str] = SORT_LABELS,
    ):
        super().__init__(data)
        self.facets = tuple(facets)
        self.sorts = sorts
        self.fields["sort"].choices = list(sorts.items())
        for facet in self.facets:
            if facet.is_range:
                low, high = range_parameters(facet.key)
                unit = f" ({facet.unit})" if facet.unit else ""
                self.fields[low] = self._number_field(f"{facet.label} from{unit}")
                self.fields[high] = self._number_field(f"{facet.label} to{unit}")

    @staticmethod
    def _number_field(label: str) -> forms.DecimalField:
        return forms.DecimalField(
            required=False,
            min_value=-MAX_RANGE_NUMBER,
            max_value=MAX_RANGE_NUMBER,
            max_digits=20,
            decimal_places=6,
            label=label,
            error_messages={
                "max_value": "Enter a smaller number.",
                "min_value": "Enter a larger number.",
                "max_digits": "Enter a shorter number.",
                "max_whole_digits": "Enter a smaller number.",
                "max_decimal_places": "Enter at most 6 decimal places.",
            },
        )

    def clean(self):
        cleaned = super().clean()
        low, high = cleaned.get("price_min"), cleaned.get("price_max")
        if low is not None and high is not None and low > high:
            self.add_error("price_max", "The maximum price is below the minimum.")
        # Only the category's allow-listed facets are read: no other key reaches a query.
        attributes, ranges = {}, {}
        for facet in self.facets:
            if facet.is_range:
                low_name, high_name = range_parameters(facet.key)
                low, high = cleaned.get(low_name), cleaned.get(high_name)
                if low is not None and high is not None and low > high:
                    self.add_error(high_name, f"The highest {facet.label} is below the lowest.")
                elif (low, high) != (None, None):
                    ranges[facet.key] = (low, high)
                continue
            values = sorted({value.strip() for value in self.data.getlist(facet.key) if value.strip()})
            if len(values) > MAX_VALUES_PER_FACET:
                self.add_error(None, f"Choose at most {MAX_VALUES_PER_FACET} values of {facet.label}.")
            elif any(len(value) > MAX_VALUE_LENGTH or "\x00" in value for value in values):
                self.add_error(None, f"A {facet.label} value is too long or has characters it cannot have.")
            elif values:
                attributes[facet.key] = tuple(values)
        cleaned["attributes"] = attributes
        cleaned["ranges"] = ranges
        return cleaned

    def filters(self) -> ProductFilters:
        """Return the valid part of the filters (call after is_valid(); bad fields are left out)."""
        data = getattr(self, "cleaned_data", {})
        ranges = {
            key: bounds
            for key, bounds in data.get("ranges", {}).items()
            # a bound refused by its field is left out, as a bad price is
            if all(name not in self.errors for name in range_parameters(key))
        }
        return ProductFilters(
            price_min=data.get("price_min"),
            price_max=data.get("price_max"),
            attributes=data.get("attributes", {}),
            sort=data.get("sort") or next(iter(self.sorts)),
            ranges=ranges,
        )

    def page_number(self) -> int:
        return getattr(self, "cleaned_data", {}).get("page") or 1


class SearchForm(forms.Form):
    """What a customer searches for (`q`) and, optionally, in which category (its slug).

    A search is at most MAX_QUERY_LENGTH characters, refused beyond rather than cut: the customer
    sees what was searched. Any text is safe to search (websearch_to_tsquery reads operators and
    never fails on syntax; correcting a typo reads words); NUL is refused by the field.
    """

    q = forms.CharField(
        required=False,
        strip=True,
        max_length=MAX_QUERY_LENGTH,
        label="Search",
        error_messages={"max_length": f"Search for at most {MAX_QUERY_LENGTH} characters."},
    )
    category = forms.SlugField(required=False, max_length=100)

    def clean_q(self) -> str:
        text = " ".join(self.cleaned_data["q"].split())
        if text and len(text) < MIN_QUERY_LENGTH:
            raise forms.ValidationError(
                f"Type at least {MIN_QUERY_LENGTH} characters to search.", code="short"
            )
        return text

    def terms(self) -> SearchTerms | None:
        """Return what to search for; None when there is nothing valid to search."""
        text = getattr(self, "cleaned_data", {}).get("q")
        return SearchTerms.of(text) if text else None

    def category_slug(self) -> str:
        return getattr(self, "cleaned_data", {}).get("category") or ""
