"""The dashboard's filters: defaults, and a clear error for each kind of bad input."""

from datetime import date

import pytest

from reports.forms import DashboardForm

TODAY = date(2025, 6, 30)


def form(**data) -> DashboardForm:
    return DashboardForm(data, today=TODAY)


def test_no_input_means_the_last_30_days_and_more_than_5_orders():
    bound = form()

    assert bound.is_valid()
    filters = bound.filters()
    assert (filters.date_from, filters.date_to, filters.orders_over) == (date(2025, 6, 1), TODAY, 5)


def test_an_end_alone_means_the_30_days_up_to_it():
    bound = form(date_to="2025-01-30")

    assert bound.is_valid()
    assert bound.filters().date_from == date(2025, 1, 1)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"date_from": "2025-02-01", "date_to": "2025-01-01"}, "reversed"),
        ({"date_from": "2020-01-01", "date_to": "2023-01-03"}, "too_long"),  # 1,099 days
        ({"date_from": "0001-01-01", "date_to": "9999-12-31"}, "too_long"),
    ],
)
def test_a_bad_range_is_a_form_error(data, code):
    bound = form(**data)

    assert not bound.is_valid()
    assert bound.has_error("__all__", code)


@pytest.mark.parametrize("value", ["-1", "1.5", "x", "1000001"])
def test_a_bad_minimum_of_orders_is_an_error_on_its_field(value):
    assert not form(orders_over=value).is_valid()
    assert form(orders_over=value).has_error("orders_over")


def test_a_range_of_1098_days_is_the_longest_allowed():
    assert form(date_from="2020-01-01", date_to="2023-01-02").is_valid()


def test_the_calendars_ends_do_not_overflow():
    assert form(date_from="9999-12-31").is_valid()
    assert form(date_to="0001-01-01").is_valid()
