"""The catalog pages' parts built in Python: escaped as the template engine escapes, written as it
writes, and linked as reverse() links."""

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.urls import reverse, set_script_prefix

from catalog.fragments import facet_options, product_cards
from shopsite.links import path_to

HOSTILE = """<script>alert("x")</script> & 'quotes'"""


def test_every_text_of_a_card_is_escaped_as_a_template_would():
    card = product_cards(
        [{"slug": "a-shirt", "name": HOSTILE, "price": Decimal("12.50"), "category__name": HOSTILE}],
        category=True,
    )
    escaped = Template("{{ text }}").render(Context({"text": HOSTILE}))

    assert "<script>" not in card
    assert card.count(escaped) == 2  # the name and the category's name


def test_a_facet_value_is_escaped_in_the_checkbox_and_its_label():
    options = facet_options("color", [(HOSTILE, 3)], chosen=[HOSTILE])

    assert "<script>" not in options
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;quotes&#x27;"
    assert f'value="{escaped}" checked> {escaped} ' in options
    assert '<span class="count">3</span>' in options


@pytest.mark.parametrize(
    ("price", "shown"),
    [("0.50", "$0.50"), ("12.00", "$12.00"), ("1299.99", "$1,299.99"), ("100000.00", "$100,000.00")],
)
def test_a_price_is_written_as_every_page_writes_money(price, shown):
    card = product_cards([{"slug": "p", "name": "P", "price": Decimal(price)}])
    written = Template("{{ price|money }}").render(Context({"price": Decimal(price)}))

    assert written == shown
    assert f'<span class="price">{shown}</span>' in card


@pytest.mark.parametrize(("stock", "label"), [(0, "Out of stock"), (3, "Only 3 left"), (50, "In stock")])
def test_a_card_says_the_stock_state(stock, label):
    card = product_cards([{"slug": "p", "name": "P", "price": Decimal("1.00"), "stock": stock}], stock=True)

    assert label in card


def test_a_link_is_what_reverse_gives_and_follows_the_script_prefix():
    assert path_to("catalog:product", "a-shirt") == reverse("catalog:product", args=["a-shirt"])
    try:
        set_script_prefix("/shop/")
        assert path_to("catalog:product", "a-shirt") == "/shop/p/a-shirt/"
    finally:
        set_script_prefix("/")
    assert path_to("catalog:product", "a-shirt") == "/p/a-shirt/"
