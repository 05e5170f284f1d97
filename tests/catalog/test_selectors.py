import pytest

from catalog.selectors import category_ids_by_slug, product_colors
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_product_colors_are_distinct_sorted_and_limited():
    for color in ["red", "blue", "red", "green"]:
        ProductFactory(details={"color": color})
    ProductFactory(details={"size": "M"})

    assert product_colors(limit=10) == ["blue", "green", "red"]
    assert product_colors(limit=2) == ["blue", "green"]


def test_product_colors_are_served_from_the_cache_the_second_time(django_assert_num_queries):
    ProductFactory(details={"color": "red"})
    with django_assert_num_queries(1):
        product_colors(limit=10)
    ProductFactory(details={"color": "blue"})

    with django_assert_num_queries(0):
        assert product_colors(limit=10) == ["red"]  # stale by design until the entry expires


def test_category_ids_by_slug():
    shirts, shoes = CategoryFactory(slug="shirts"), CategoryFactory(slug="shoes")

    assert category_ids_by_slug() == {"shirts": shirts.pk, "shoes": shoes.pk}
