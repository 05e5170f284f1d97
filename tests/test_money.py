"""Money is shown one way everywhere: `$1,234.56` (shopsite.money), on the storefront and in admin."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.models import Order
from shopsite.money import money, money_compact
from tests.accounts.helpers import place_order, put_in_cart
from tests.conftest import fuzz_examples
from tests.factories import AddressFactory, CategoryFactory, CustomerFactory, ProductFactory, UserFactory

# --- The helper's rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("1234.56"), "$1,234.56"),
        (Decimal("1234.5"), "$1,234.50"),
        (Decimal("0"), "$0.00"),
        (Decimal("0.5"), "$0.50"),
        (Decimal("999.99"), "$999.99"),
        (Decimal("1000"), "$1,000.00"),
        (Decimal("1234567.89"), "$1,234,567.89"),
        (Decimal("-12.5"), "-$12.50"),
        (Decimal("-1234.5"), "-$1,234.50"),
        (Decimal("0.005"), "$0.01"),  # half away from zero, as PostgreSQL's round()
        (Decimal("-0.005"), "-$0.01"),
        (Decimal("-0.004"), "$0.00"),  # no minus on a zero
        (Decimal("9.995"), "$10.00"),
        (Decimal("1E+30"), "$1,000,000,000,000,000,000,000,000,000,000.00"),  # past the 28 digits of Decimal
        (1234, "$1,234.00"),
        ("1234.5", "$1,234.50"),
        (0.1, "$0.10"),
        (None, "\u2013"),  # no amount: an en dash
    ],
)
def test_an_amount_is_shown_with_the_symbol_separators_and_two_decimals(value, shown):
    assert money(value) == shown


@pytest.mark.parametrize(
    "value", [Decimal("NaN"), Decimal("Infinity"), float("inf"), "twelve", True, [], object()]
)
def test_what_is_no_amount_is_refused(value):
    with pytest.raises(ValueError, match="not an amount of money"):
        money(value)


def test_the_symbol_is_the_setting(settings):
    settings.CURRENCY_SYMBOL = "€"

    assert money(Decimal("-1234.5")) == "-€1,234.50"


def _read_back(shown: str) -> Decimal:
    """Return the amount a customer reads in `$1,234.56` or `-$12.50`."""
    match = re.fullmatch(r"(-?)\$(\d{1,3}(?:,\d{3})*)\.(\d{2})", shown)
    assert match, shown
    return Decimal(f"{match[1]}{match[2].replace(',', '')}.{match[3]}")


@settings(max_examples=fuzz_examples(1000))
@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**15), max_value=10**15))
def test_any_amount_reads_back_as_itself_to_the_cent(value):
    shown = money(value)

    assert _read_back(shown) == value.quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    assert shown.startswith("-$") == (_read_back(shown) < 0)


@settings(max_examples=fuzz_examples(300))
@given(st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-(10**12), max_value=10**12))
def test_the_template_filter_shows_what_the_helper_shows(value):
    assert Template("{{ amount|money }}").render(Context({"amount": value})) == money(value)


def test_the_template_filter_shows_nothing_for_what_is_no_amount():
    rendered = Template("[{{ a|money }}][{{ b|money }}][{{ c|money }}]").render(
        Context({"a": "twelve", "b": Decimal("NaN"), "c": None})
    )

    assert rendered == "[][][\u2013]"


# --- The short form, for a chart's axis -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("0"), "$0"),
        (Decimal("0.25"), "$0.25"),
        (Decimal("7.5"), "$7.50"),  # cents as money() shows them
        (Decimal("750"), "$750"),  # whole: no .00
        (Decimal("999.99"), "$999.99"),
        (Decimal("999.995"), "$1k"),  # rounded to the cent first
        (Decimal("1000"), "$1k"),
        (Decimal("1234"), "$1.23k"),  # three significant digits
        (Decimal("1235"), "$1.24k"),  # half away from zero
        (Decimal("2500"), "$2.5k"),
        (Decimal("12000"), "$12k"),
        (Decimal("750000"), "$750k"),
        (Decimal("999500"), "$1M"),  # not $1000k
        (Decimal("1250000"), "$1.25M"),
        (Decimal("7.5E+9"), "$7.5B"),
        (Decimal("2E+12"), "$2T"),
        (Decimal("1.5E+15"), "$1,500T"),
        (Decimal("-40000"), "-$40k"),
        (Decimal("-12.5"), "-$12.50"),
        (Decimal("-0.004"), "$0"),  # no minus on a zero
        (2500, "$2.5k"),
        ("12000", "$12k"),
        (0.75, "$0.75"),
        (750000.0, "$750k"),
        (None, "\u2013"),
    ],
)
def test_the_short_form_counts_in_thousands_millions_billions_and_trillions(value, shown):
    assert money_compact(value) == shown


@pytest.mark.parametrize("value", [Decimal("NaN"), float("-inf"), "twelve", False, []])
def test_the_short_form_refuses_what_money_refuses(value):
    with pytest.raises(ValueError, match="not an amount of money"):
        money_compact(value)


def test_the_short_form_has_the_symbol_of_the_setting(settings):
    settings.CURRENCY_SYMBOL = "€"

    assert money_compact(Decimal("-2500")) == "-€2.5k"


UNITS = {"": 1, "k": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}


@settings(max_examples=fuzz_examples(1000))
@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**18), max_value=10**18))
def test_any_amount_in_short_is_within_half_its_third_digit(value):
    shown = money_compact(value)

    match = re.fullmatch(r"(-?)\$(\d[\d,]*(?:\.\d{1,2})?)([kMBT]?)", shown)
    assert match, shown
    read = Decimal(f"{match[1]}{match[2].replace(',', '')}") * UNITS[match[3]]
    cents = value.quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    if abs(cents) < 1000:
        assert shown == money(value).removesuffix(".00")
    else:
        assert match[3]
        assert abs(read - cents) <= abs(cents) * Decimal("0.005")
        # The largest unit the amount reaches: $1M, never $1,000k.
        assert Decimal(match[2].replace(",", "")) < 1000 or match[3] == "T"
    assert shown.startswith("-") == (read < 0)


# --- The pages: a product of $1,234.50 wherever the shop shows it ----------------------------------

PRICE = Decimal("1234.50")
# An amount written without the symbol before it: "1234.50", "1,234.50", "-12.00" (not "$1,234.50").
BARE_AMOUNT = re.compile(r"(?<![\d,.$])-?\d[\d,]*\.\d{2}(?!\d)")


def page_text(response) -> str:
    """Return what a page shows: its HTML without tags (and so without attributes, such as the
    value of an input, which stays a plain number to be edited)."""
    assert response.status_code == 200
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def assert_shows(response, *amounts: str) -> None:
    text = page_text(response)
    for amount in amounts:
        assert amount in text
    assert BARE_AMOUNT.findall(text) == []


@pytest.fixture
def piano(db):
    return ProductFactory(
        name="Grand piano", price=PRICE, stock=10, category=CategoryFactory(slug="pianos", facets=["color"])
    )


@pytest.fixture
def buyer(client, piano, delivery_options):
    """A signed-in customer with an address and two pianos in the cart."""
    customer = CustomerFactory(user=UserFactory())
    AddressFactory(customer=customer)
    client.force_login(customer.user)
    put_in_cart(client, {piano.pk: 2})
    return client


def test_the_card_of_the_category_page_and_the_home_page(client, piano):
    assert_shows(client.get(reverse("catalog:category", args=["pianos"])), "$1,234.50")
    assert_shows(client.get(reverse("catalog:home")), "$1,234.50")


def test_the_product_page(client, piano):
    assert_shows(client.get(piano.get_absolute_url()), "$1,234.50")


def test_the_price_filter_chips_of_the_category_page(client, piano):
    response = client.get(
        reverse("catalog:category", args=["pianos"]), {"price_min": "1000", "price_max": "1500"}
    )

    assert_shows(response, "From $1,000.00", "Up to $1,500.00", "$1,234.50")


def test_the_cart_and_the_checkout(buyer):
    for page in ("accounts:cart", "accounts:checkout"):
        assert_shows(buyer.get(reverse(page)), "$1,234.50", "$2,469.00")


def test_the_order_pages(buyer):
    assert place_order(buyer).status_code == 303
    order = Order.objects.get()

    # the unit price, the line's subtotal, the standard delivery and the total with it
    amounts = "$1,234.50", "$2,469.00", "$4.95", "$2,473.95"
    assert_shows(buyer.get(reverse("accounts:order", args=[order.pk])), *amounts)
    assert_shows(buyer.get(reverse("accounts:orders")), *amounts)


def test_admins_product_list_and_its_price_sorted(admin_client, piano):
    ProductFactory(price=Decimal("12.00"), category=piano.category)
    response = admin_client.get(reverse("admin:catalog_product_changelist"), {"o": "4"})  # by price

    assert_shows(response, "$1,234.50", "$12.00")
    assert [product.price for product in response.context["cl"].result_list] == [Decimal("12.00"), PRICE]


def test_admins_product_page_edits_the_price_as_a_number(admin_client, piano):
    html = admin_client.get(reverse("admin:catalog_product_change", args=[piano.pk])).content.decode()

    assert 'name="price" value="1234.50"' in html


def test_admins_order_list_and_order_page(admin_client, buyer):
    assert place_order(buyer).status_code == 303
    order = Order.objects.get()

    assert_shows(admin_client.get(reverse("admin:accounts_order_changelist")), "$2,473.95")
    page = admin_client.get(reverse("admin:accounts_order_change", args=[order.pk]))
    # the total and the delivery, read-only; the line's unit price and subtotal, in the inline
    assert_shows(page, "$1,234.50", "$2,469.00", "$4.95", "$2,473.95")
    assert "total" not in page.context["adminform"].form.fields  # shown, never edited
