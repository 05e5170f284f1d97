"""shopsite.db.keyset: every row once, in order, a page per query, whatever the ties and directions."""

from decimal import Decimal

import pytest
from django.db.models import Count, F, OrderBy
from django.db.models.functions import Lower
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.models import Order
from catalog.models import Product
from shopsite.db.keyset import KeysetRefused, keyset_rows
from tests.factories import CategoryFactory, ProductFactory


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
        keyset_rows(Customer.objects.order_by("last_purchase"), ["id"], page_size=10)


# --- The orderings admin builds: names, F() and OrderBy expressions, relations, its pk tiebreaker --


def _products_with_ties(categories: int = 2, n: int = 9) -> None:
    shelves = [CategoryFactory(name=f"Shelf {k}") for k in range(categories)]
    for k in range(n):
        ProductFactory(
            price=Decimal(10 + k % 3), stock=k % 2, name=f"P{k % 4}", category=shelves[k % categories]
        )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "ordering",
    [
        [F("price").desc(), F("name").asc()],
        [F("price"), "-stock"],
        [OrderBy(F("stock"), descending=True), "-pk"],  # admin's tiebreaker: the newest first
        ["price", "-pk"],
        [F("price").asc(nulls_last=True), F("pk").desc()],
        ["category__name", "-price"],  # a path through a NOT NULL foreign key
        [F("category"), "name"],  # F() of a relation: its column
        ["category_id", "-name"],
        ["price", "-price", "price", "name"],  # repeated: the first one orders
        ["pk", "price"],  # after the primary key nothing orders
    ],
    ids=str,
)
@pytest.mark.parametrize("page_size", [1, 2, 4])
def test_the_orderings_admin_builds_are_followed_page_by_page(ordering, page_size, django_assert_num_queries):
    _products_with_ties()
    queryset = Product.objects.order_by(*ordering)
    # Made total by the primary key, as keyset_rows does (a no-op after "-pk" or "pk").
    expected = list(queryset.order_by(*ordering, "pk").values_list("pk", "name"))

    with django_assert_num_queries(len(expected) // page_size + 1):
        rows = list(keyset_rows(queryset, ["pk", "name"], page_size=page_size))

    assert rows == expected


@pytest.mark.django_db
def test_a_queryset_without_ordering_is_read_in_its_models_then_by_key():
    _products_with_ties()

    rows = list(keyset_rows(Product.objects.all(), ["pk"], page_size=2))

    assert rows == list(Product.objects.order_by("name", "pk").values_list("pk"))


@pytest.mark.parametrize(
    ("queryset", "reason"),
    [
        (lambda: Product.objects.order_by("?"), "random order"),
        (lambda: Product.objects.order_by(Lower("name")), "an expression, not a field"),
        (lambda: Product.objects.order_by(OrderBy(Lower("name"))), "an expression, not a field"),
        (lambda: Product.objects.annotate(n=Count("pk")).order_by("n"), "not a field of Product"),
        (lambda: Product.objects.order_by("name__lower"), "a transform of a field"),
        (lambda: Product.objects.order_by("category"), "Category's own ordering"),
        (lambda: Order.objects.order_by("shipped"), "Order.shipped may be NULL"),
        (lambda: Order.objects.order_by(F("shipped").desc()), "Order.shipped may be NULL"),
        (lambda: Order.objects.order_by("customer__user__username"), "Customer.user may be NULL"),
        (lambda: Order.objects.order_by("items__quantity"), "may repeat rows"),
        (lambda: Order.objects.order_by("customer__name__lower"), "a transform of a field"),
        (lambda: Product.objects.extra(order_by=["name"]), "extra"),
    ],
)
def test_an_ordering_a_key_cannot_follow_is_refused_before_any_query(queryset, reason):
    # No django_db mark: a query would fail the test ("Database access not allowed").
    with pytest.raises(KeysetRefused, match=reason):
        keyset_rows(queryset(), ["pk"], page_size=10)
