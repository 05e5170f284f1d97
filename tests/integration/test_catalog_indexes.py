"""EXPLAIN shows the catalog's queries use the indexes built for them, on enough data."""

import random
from decimal import Decimal

import pytest
from django.db import connection

from catalog.filters import ProductFilters
from catalog.models import Category, Product
from catalog.selectors import CategoryInfo, products_for_listing

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

COLORS = [f"color-{n}" for n in range(40)]


@pytest.fixture
def big_catalog():
    """20 categories of 1,000 products each, analysed, with a visibility map for index-only scans."""
    rng = random.Random(3)
    categories = Category.objects.bulk_create(
        [Category(name=f"Category {n}", slug=f"category-{n}", facets=["color"]) for n in range(20)]
    )
    Product.objects.bulk_create(
        [
            Product(
                sku=f"IX-{n:06d}",
                slug=f"ix-{n}",
                name=f"Product {n}",
                category=categories[n % 20],
                price=Decimal(rng.randint(100, 100_000)) / 100,
                stock=rng.randint(0, 50),
                is_active=n % 10 != 0,
                details={"color": rng.choice(COLORS), "size": rng.choice("SML"), "weight_g": n},
            )
            for n in range(20_000)
        ],
        batch_size=5_000,
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE catalog_product")
    return categories[0]


def _plan(queryset) -> str:
    with connection.cursor() as cursor:
        sql, params = queryset.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def _info(category: Category) -> CategoryInfo:
    return CategoryInfo(category.id, category.name, category.slug, tuple(category.facets))


def test_the_list_of_a_category_is_an_index_only_scan_of_the_covering_index(big_catalog):
    listing = products_for_listing(category=_info(big_catalog), filters=ProductFilters(sort="price"))[:24]

    plan = _plan(listing)

    assert "Index Only Scan using product_listing" in plan, plan


def test_an_attribute_filter_uses_the_gin_index(big_catalog):
    filters = ProductFilters(attributes={"color": ("color-7",)}, sort="price")
    any_category = Product.objects.filter(details__contains={"color": "color-7"})

    plan = _plan(any_category)
    listing_plan = _plan(products_for_listing(category=_info(big_catalog), filters=filters)[:24])

    assert "Bitmap Index Scan on product_details_gin" in plan, plan
    assert "Seq Scan" not in listing_plan, listing_plan
