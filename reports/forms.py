"""Input of the reports dashboard: the date range and the top customers' minimum."""

from __future__ import annotations

from datetime import date, timedelta

from django import forms

from reports.selectors import DashboardFilters

DEFAULT_RANGE_DAYS = 30
MAX_RANGE_DAYS = 3 * 366  # three years, leap days included
DEFAULT_ORDERS_OVER = 5
MAX_ORDERS_OVER = 1_000_000


class DashboardForm(forms.Form):
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    orders_over = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_ORDERS_OVER,
        label="Top customers with more than",
        help_text="orders",
        widget=forms.NumberInput(attrs={"min": 0, "max": MAX_ORDERS_OVER}),
    )

    def __init__(self, data, *, today: date):
        super().__init__(data)
        self.today = today

    def clean(self):
        cleaned = super().clean()
        # Missing dates default to the last 30 days, or 30 days either side of the one given.
        date_to, date_from = cleaned.get("date_to"), cleaned.get("date_from")
        if "date_to" not in self.errors and "date_from" not in self.errors:
            if date_to is None:
                date_to = self.today if date_from is None else _days_after(date_from, DEFAULT_RANGE_DAYS - 1)
            if date_from is None:
                date_from = _days_after(date_to, -(DEFAULT_RANGE_DAYS - 1))
            if date_from > date_to:
                raise forms.ValidationError("The start of the range is after its end.", code="reversed")
            if (date_to - date_from).days >= MAX_RANGE_DAYS:
                raise forms.ValidationError(
                    "Choose a range of at most three years (%(days)s days).",
                    code="too_long",
                    params={"days": MAX_RANGE_DAYS},
                )
            cleaned["date_from"], cleaned["date_to"] = date_from, date_to
        if cleaned.get("orders_over") is None and "orders_over" not in self.errors:
            cleaned["orders_over"] = DEFAULT_ORDERS_OVER
        self._show_defaults(cleaned)
        return cleaned

    def _show_defaults(self, cleaned: dict) -> None:
        # The page shows the range and minimum it uses, also when they were left out.
        data = self.data.copy()
        for name, value in cleaned.items():
            if value is not None and not data.get(name):
                data[name] = value.isoformat() if isinstance(value, date) else str(value)
        self.data = data

    def filters(self) -> DashboardFilters:
        """Return the valid form's filters."""
        return DashboardFilters(
            date_from=self.cleaned_data["date_from"],
            date_to=self.cleaned_data["date_to"],
            orders_over=self.cleaned_data["orders_over"],
        )


def default_filters(*, today: date) -> DashboardFilters:
    """Return the dashboard's filters when none are given: the last 30 days, more than 5 orders."""
    return DashboardFilters(
        date_from=today - timedelta(days=DEFAULT_RANGE_DAYS - 1),
        date_to=today,
        orders_over=DEFAULT_ORDERS_OVER,
    )


def _days_after(day: date, days: int) -> date:
    """Return `day` moved by `days`, stopping at the calendar's ends rather than overflowing."""
    return date.fromordinal(min(max(day.toordinal() + days, 1), date.max.toordinal()))
