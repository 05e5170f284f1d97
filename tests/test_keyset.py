"""shopsite.db.keyset: every row once, in order, a page per query, whatever the ties and directions."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.models import Product
from shopsite.db.keyset import keyset_rows
from tests.factories import ProductFactory


@pytest.mark.django_db
@pytest.mark.parametrize(
    "ordering", [["-price", "name"], ["price", "-stock"], ["-stock"], ["name"], ["-price", "-stock", "name"]]
)
@pytest.mark.parametrize("page_size", [1, 2, 3, 50])
def test_pages_give_every_row_once_in_the_orderings_order(ordering, page_size, django_assert_num_queries):
    # Ties on every leading key: prices and stocks repeat, names repeat.
    for n in range(9):
        ProductFactory(price=Decimal(10 + n % 3), stock=n % 2, name=f"P{n % 4}")
    queryset = Product.objects.order_by(*ordering)
    expected = list(queryset.order_by(*ordering, "pk").values_list("pk", "name"))
    pages = len(expected) // page_size + 1  # a last short page (maybe empty) ends it

    with django_assert_num_queries(pages):
        rows = list(keyset_rows(queryset, ["pk", "name"], page_size=page_size))

    assert rows == expected


@pytest.mark.django_db
@settings(max_examples=25, deadline=None)
@given(
    prices=st.lists(st.integers(1, 4), min_size=0, max_size=12),
    page_size=st.integers(1, 5),
    descending=st.booleans(),
)
def test_any_table_any_page_size(prices, page_size, descending):
    Product.objects.all().delete()
    for price in prices:
        ProductFactory(price=Decimal(price))
    field = "-price" if descending else "price"

    rows = list(keyset_rows(Product.objects.order_by(field), ["id"], page_size=page_size))

    assert rows == list(Product.objects.order_by(field, "pk").values_list("id"))


@pytest.mark.django_db
def test_only_the_asked_columns_come_back_though_the_keys_are_read_too():
    ProductFactory.create_batch(3)

    rows = list(keyset_rows(Product.objects.order_by("-price"), ["sku"], page_size=2))

    assert all(len(row) == 1 for row in rows)
    assert sorted(rows) == sorted(Product.objects.values_list("sku"))


def test_a_field_that_may_be_null_is_refused():
    from accounts.models import Customer

    with pytest.raises(ValueError, match="may be NULL"):
        next(keyset_rows(Customer.objects.order_by("last_purchase"), ["id"], page_size=10))
