"""A crafted URL never poisons what other visitors see: real requests, the real Redis.

A category page caches its count and facet counts per filter set for an hour. A value holding
`,` or `;` once built the key of another filter set (`color=red;size=M` as one value was the key
of color red and size M), so one request stored "0 products" for a real filter.
"""

from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shirts():
    shirts = CategoryFactory(slug="shirts", facets=["color", "size"])
    for color, size in [("red", "M"), ("red", "M"), ("red", "L"), ("blue", "M"), ("blue", "S")]:
        ProductFactory(category=shirts, details={"color": color, "size": size})
    return shirts


def category_page(query: list[tuple[str, str]]):
    return Client().get(reverse("catalog:category", args=["shirts"]) + "?" + urlencode(query))


@pytest.mark.parametrize(
    ("crafted", "real", "real_count"),
    [
        # one value that the old key spelled like two facets
        ([("color", "red;size=M")], [("color", "red"), ("size", "M")], 2),
        # one value that the old key spelled like two values of one facet
        ([("color", "blue,red")], [("color", "red"), ("color", "blue")], 5),
        ([("size", "L,M")], [("size", "M"), ("size", "L")], 4),
    ],
)
def test_a_crafted_filter_value_does_not_poison_the_real_filters_count(shirts, crafted, real, real_count):
    poisoned = category_page(crafted)
    assert poisoned.status_code == 200
    assert poisoned.context["page"].paginator.count == 0  # no product has that value

    response = category_page(real)

    assert response.status_code == 200
    assert response.context["page"].paginator.count == real_count
    assert len(response.context["page"]) == real_count
    # and from the cache, the second time: the real count was cached under its own key
    assert category_page(real).context["page"].paginator.count == real_count
    assert category_page(crafted).context["page"].paginator.count == 0


def test_the_same_filters_in_another_order_or_spelling_share_one_entry(shirts):
    first = category_page([("color", "red"), ("color", "blue"), ("price_min", "1.0")])

    again = category_page([("price_min", "1.00"), ("color", "blue"), ("color", "red"), ("sort", "name")])

    assert 'cache;desc="0 hits 2 misses"' in first["Server-Timing"]  # the category, the counts
    assert 'cache;desc="2 hits 0 misses"' in again["Server-Timing"]
    assert again.context["page"].paginator.count == 5
