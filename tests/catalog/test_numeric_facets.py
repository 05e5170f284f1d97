"""Facets a category declares with a label, a unit and a kind: numbers in details filtered by range,
counted per bucket, and shown with their labels and units on the product page."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from catalog.filters import Facet, range_buckets
from catalog.models import CategoryFacet
from catalog.templatetags.shop import detail_rows
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

LAPTOP_FACETS = [
    ("brand", "Brand", "", "choice"),
    ("ram_gb", "RAM", "GB", "range"),
    ("screen_in", "Screen", "in", "range"),
]


@pytest.fixture
def laptops():
    return CategoryFactory(name="Laptops", slug="laptops", facets=LAPTOP_FACETS)


def _stock(category, n: int) -> None:
    """Laptops of 8, 16, 32 and 64 GB in turn, screens of 13.3 to 16 in; one with RAM as text."""
    for i in range(n):
        ProductFactory(
            category=category,
            name=f"Laptop {i:03d}",
            price=Decimal(500 + i),
            details={
                "brand": "Lumen",
                "ram_gb": [8, 16, 32, 64][i % 4],
                "screen_in": [13.3, 14, 15.6, 16][i % 4],
            },
        )
    ProductFactory(category=category, name="Laptop with RAM as text", details={"ram_gb": "lots"})


def _url(**query) -> str:
    return reverse("catalog:category", args=["laptops"]) + (
        "?" + "&".join(f"{k}={v}" for k, v in query.items())
    )


def _names(response) -> list[str]:
    return [product.name for product in response.context["page"]]


# --- Range filters -----------------------------------------------------------------------------


def test_a_range_filter_keeps_the_numbers_from_min_to_max_both_included(client, laptops):
    _stock(laptops, 8)

    response = client.get(_url(ram_gb_min=16, ram_gb_max=32))

    assert response.status_code == 200
    assert _names(response) == ["Laptop 001", "Laptop 002", "Laptop 005", "Laptop 006"]
    assert "RAM: 16\N{EN DASH}32 GB" in response.content.decode()  # a chip that removes it


def test_one_bound_of_a_range_is_enough_and_decimals_compare_by_value(client, laptops):
    _stock(laptops, 8)

    assert _names(client.get(_url(ram_gb_min=64))) == ["Laptop 003", "Laptop 007"]
    assert _names(client.get(_url(screen_in_max="14.0"))) == [
        "Laptop 000",
        "Laptop 001",
        "Laptop 004",
        "Laptop 005",
    ]


def test_each_bucket_counts_what_its_link_shows(client, laptops):
    _stock(laptops, 12)

    response = client.get(_url(brand="Lumen"))
    buckets = response.context["buckets"]["ram_gb"]
    page = response.content.decode()

    assert [(b.low, b.high, b.count) for b in buckets] == [
        (Decimal(0), Decimal(20), 6),
        (Decimal(20), Decimal(40), 3),
        (Decimal(60), Decimal(80), 3),  # 40-60 would show nothing: not offered
    ]
    for bucket in buckets:
        low, high = (format(edge.normalize(), "f") for edge in (bucket.low, bucket.high))
        assert f'href="?brand=Lumen&amp;ram_gb_min={low}&amp;ram_gb_max={high}"' in page
        assert (
            client.get(_url(brand="Lumen", ram_gb_min=low, ram_gb_max=high)).context["page"].paginator.count
            == bucket.count
        )


def test_a_facets_buckets_apply_every_filter_but_its_own(client, laptops):
    _stock(laptops, 12)

    buckets = client.get(_url(ram_gb_min=64, screen_in_min=15)).context["buckets"]

    # RAM's buckets ignore the RAM range but keep the screen's (15.6 in: 32 GB; 16 in: 64 GB) ...
    assert [(b.low, b.count) for b in buckets["ram_gb"]] == [(Decimal(20), 3), (Decimal(60), 3)]
    # ... and the screen's keep RAM's: 64 GB laptops have 16 in screens.
    assert [(b.low, b.high, b.count) for b in buckets["screen_in"]] == [(Decimal("15.5"), Decimal(16), 3)]


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (Decimal(8), Decimal(64), [(0, 20), (20, 40), (40, 60), (60, 80)]),
        (
            Decimal("13.3"),
            Decimal(16),
            [(13, 13.5), (13.5, 14), (14, 14.5), (14.5, 15), (15, 15.5), (15.5, 16)],
        ),
        (
            Decimal(50),
            Decimal(15_000),
            [(0, 2500), (2500, 5000), (5000, 7500), (7500, 10000), (10000, 12500), (12500, 15000)],
        ),
        (Decimal(3), Decimal(3), [(3, 3)]),
        (Decimal("-7.5"), Decimal(2), [(-8, -6), (-6, -4), (-4, -2), (-2, 0), (0, 2)]),
    ],
)
def test_buckets_cover_the_categorys_range_in_at_most_6_round_steps(low, high, expected):
    buckets = range_buckets(low, high)

    assert [(float(a), float(b)) for a, b in buckets] == [(float(a), float(b)) for a, b in expected]
    assert len(buckets) <= 6
    assert buckets[0][0] <= low
    assert buckets[-1][1] >= high


@pytest.mark.parametrize("n", [4, 40])
def test_a_category_page_with_range_facets_keeps_its_query_budget(
    client, laptops, django_assert_num_queries, n
):
    _stock(laptops, n)

    # the category with its facets and their ranges (one query), the count, the page, the facet
    # and bucket counts (one UNION ALL)
    with django_assert_num_queries(4):
        assert client.get(_url(ram_gb_min=16, brand="Lumen")).status_code == 200
    with django_assert_num_queries(1):
        assert client.get(_url(ram_gb_min=16, brand="Lumen")).status_code == 200


# --- Bad numbers: form errors, never a 500 -------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"ram_gb_min": "abc"}, "RAM from (GB): Enter a number."),
        ({"ram_gb_min": "64", "ram_gb_max": "8"}, "RAM to (GB): The highest RAM is below the lowest."),
        ({"ram_gb_max": "1e400"}, "RAM to (GB): Enter a smaller number."),
        ({"ram_gb_min": "-1e400"}, "RAM from (GB): Enter a larger number."),
        ({"ram_gb_min": "NaN"}, "RAM from (GB): Enter a number."),
        ({"ram_gb_min": "Infinity"}, "RAM from (GB): Enter a number."),
        ({"ram_gb_min": "1" * 5_000}, "RAM from (GB): Enter a smaller number."),
        ({"screen_in_min": "13.1234567"}, "Screen from (in): Enter at most 6 decimal places."),
    ],
)
def test_bad_numbers_are_form_errors(client, laptops, query, message):
    _stock(laptops, 4)

    response = client.get(_url(**query))

    assert response.status_code == 400
    assert message in response.content.decode()
    assert response.context["page"].paginator.count == 5  # the bad bound is not applied


def test_a_number_stored_as_text_is_no_number_and_never_an_error(client, laptops):
    _stock(laptops, 4)

    response = client.get(_url(ram_gb_min=0))

    assert response.status_code == 200
    assert "Laptop with RAM as text" not in _names(response)
    assert response.context["page"].paginator.count == 4


# --- Declarations --------------------------------------------------------------------------------


def test_the_database_refuses_a_range_on_a_key_without_an_index(laptops):
    with pytest.raises(IntegrityError), transaction.atomic():
        CategoryFacet.objects.create(category=laptops, key="price_tag", label="Price tag", kind="range")


def test_the_database_refuses_a_facet_key_that_is_not_plain(laptops):
    with pytest.raises(IntegrityError), transaction.atomic():
        CategoryFacet.objects.create(category=laptops, key="screen size", label="Screen")


# --- The product page's details table ----------------------------------------------------------


def test_the_details_table_uses_the_facets_labels_and_units(client, laptops):
    product = ProductFactory(
        category=laptops,
        details={"ram_gb": 16, "screen_in": 13.3, "brand": "Lumen", "wifi": True, "specs": {"cpu": "M3"}},
    )

    page = client.get(product.get_absolute_url()).content.decode()

    assert '<th scope="row">Brand</th><td>Lumen</td>' in page
    assert '<th scope="row">RAM</th><td>16 GB</td>' in page
    assert '<th scope="row">Screen</th><td>13.3 in</td>' in page
    assert '<th scope="row">Wifi</th><td>Yes</td>' in page  # not a facet: its key, readable
    assert '<th scope="row">Specs › Cpu</th><td>M3</td>' in page
    assert "Ram gb" not in page


def test_details_rows_put_the_facets_first_in_their_order_with_thousands_separated():
    facets = (Facet("weight_g", "Weight", "g", "range"), Facet("color", "Color"), Facet("gone", "Gone"))

    rows = detail_rows({"color": "red", "weight_g": 12500, "size": "M"}, facets)

    assert rows == [("Weight", "12,500 g"), ("Color", "red"), ("Size", "M")]
