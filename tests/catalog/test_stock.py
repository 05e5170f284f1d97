"""stock_take: the catalog's one way to sell stock, called inside the checkout's transaction."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.models import Product
from catalog.services import OutOfStock, ProductSold, ProductUnavailable, stock_return, stock_take
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _stock() -> dict[int, int]:
    return dict(Product.objects.values_list("pk", "stock"))


def test_stock_take_takes_every_line_and_returns_names_and_prices():
    shirt = ProductFactory(name="Shirt", price=Decimal("10.00"), stock=5)
    socks = ProductFactory(name="Socks", price=Decimal("5.50"), stock=3)
    long_ago = timezone.now() - timedelta(days=30)
    Product.objects.update(updated=long_ago)

    sold = stock_take(lines={socks.pk: 3, shirt.pk: 2})

    assert sold == {
        shirt.pk: ProductSold(name="Shirt", price=Decimal("10.00")),
        socks.pk: ProductSold(name="Socks", price=Decimal("5.50")),
    }
    assert list(sold) == [shirt.pk, socks.pk]  # in id order, as the order's items are written
    assert _stock() == {shirt.pk: 3, socks.pk: 0}
    assert all(updated > long_ago for updated in Product.objects.values_list("updated", flat=True))


@pytest.mark.parametrize("n", [1, 30])
def test_stock_take_runs_two_queries_whatever_the_lines(django_assert_num_queries, n):
    products = ProductFactory.create_batch(n, category=CategoryFactory(), stock=4)

    # lock the products, one UPDATE of their stock: a savepoint would be the caller's
    with django_assert_num_queries(2) as queries:
        stock_take(lines={product.pk: 1 for product in products})

    assert [query["sql"].split()[0] for query in queries] == ["SELECT", "UPDATE"]
    assert set(_stock().values()) == {3}


def test_stock_take_locks_the_products_in_id_order():
    first, second = ProductFactory(), ProductFactory()

    with CaptureQueriesContext(connection) as queries:
        stock_take(lines={second.pk: 1, first.pk: 1})

    lock = queries[0]["sql"]
    assert lock.endswith('ORDER BY "catalog_product"."id" ASC FOR UPDATE')


def test_stock_take_short_of_one_line_raises_out_of_stock_and_writes_nothing():
    plenty = ProductFactory(stock=10)
    scarce = ProductFactory(name="Fountain pen", stock=2)

    with CaptureQueriesContext(connection) as queries, pytest.raises(OutOfStock) as raised:
        stock_take(lines={plenty.pk: 1, scarce.pk: 3})

    error = raised.value
    assert (error.product_name, error.requested, error.available) == ("Fountain pen", 3, 2)
    assert len(queries) == 1  # the lock only: no UPDATE
    assert _stock() == {plenty.pk: 10, scarce.pk: 2}


@pytest.mark.parametrize("gone", ["inactive", "deleted"])
def test_stock_take_of_a_product_no_longer_sold_raises_product_unavailable_and_writes_nothing(gone):
    kept = ProductFactory(stock=10)
    retired = ProductFactory(name="Old lamp", stock=10, is_active=gone != "inactive")
    missing_id = retired.pk + 1000 if gone == "deleted" else retired.pk

    with CaptureQueriesContext(connection) as queries, pytest.raises(ProductUnavailable) as raised:
        stock_take(lines={kept.pk: 1, missing_id: 1})

    expected_name = "Old lamp" if gone == "inactive" else None
    assert (raised.value.product_id, raised.value.product_name) == (missing_id, expected_name)
    assert len(queries) == 1
    assert _stock() == {kept.pk: 10, retired.pk: 10}


@pytest.mark.parametrize("quantity", [0, -2])
def test_stock_take_refuses_quantities_that_are_not_positive(quantity, django_assert_num_queries):
    product = ProductFactory(stock=10)

    with django_assert_num_queries(0), pytest.raises(ValueError, match="quantity"):
        stock_take(lines={product.pk: quantity})


@pytest.mark.django_db(transaction=True)
def test_stock_take_refuses_to_run_outside_a_transaction():
    product = ProductFactory(stock=10)

    with pytest.raises(TransactionManagementError, match="caller's transaction"):
        stock_take(lines={product.pk: 1})

    assert _stock() == {product.pk: 10}


# --- stock_return: the stock of a cancelled order, back on the shelf -----------------------------


@pytest.mark.parametrize("n", [1, 30])
def test_stock_return_adds_every_line_back_with_two_queries_whatever_the_lines(django_assert_num_queries, n):
    products = ProductFactory.create_batch(n, category=CategoryFactory(), stock=4)
    long_ago = timezone.now() - timedelta(days=30)
    Product.objects.update(updated=long_ago)

    # lock the products in id order, one UPDATE of their stock: a savepoint would be the caller's
    with django_assert_num_queries(2) as queries:
        stock_return(lines={product.pk: index + 1 for index, product in enumerate(reversed(products))})

    assert queries[0]["sql"].endswith("ORDER BY 1 ASC FOR UPDATE")
    assert _stock() == {product.pk: 4 + n - index for index, product in enumerate(products)}
    assert all(updated > long_ago for updated in Product.objects.values_list("updated", flat=True))


def test_stock_return_gives_a_product_no_longer_sold_its_stock_back():
    retired = ProductFactory(stock=0, is_active=False)

    stock_return(lines={retired.pk: 3})

    assert _stock() == {retired.pk: 3}


def test_stock_return_of_nothing_runs_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        stock_return(lines={})


@pytest.mark.parametrize("quantity", [0, -2])
def test_stock_return_refuses_quantities_that_are_not_positive(quantity, django_assert_num_queries):
    product = ProductFactory(stock=10)

    with django_assert_num_queries(0), pytest.raises(ValueError, match="quantity"):
        stock_return(lines={product.pk: quantity})


@pytest.mark.django_db(transaction=True)
def test_stock_return_refuses_to_run_outside_a_transaction():
    product = ProductFactory(stock=10)

    with pytest.raises(TransactionManagementError, match="caller's transaction"):
        stock_return(lines={product.pk: 1})

    assert _stock() == {product.pk: 10}
