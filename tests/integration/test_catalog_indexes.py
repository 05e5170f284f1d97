"""EXPLAIN shows the catalog's queries use the indexes built for them, on enough data."""

import random
from decimal import Decimal

import pytest
from django.db import connection

from catalog.filters import Facet, ProductFilters
from catalog.models import Category, Product
from catalog.selectors import CategoryInfo, _filtered, category_by_slug, products_for_listing

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

COLORS = [f"color-{n}" for n in range(40)]


@pytest.fixture
def big_catalog():
    """20 categories of 1,000 products each, analysed, with a visibility map for index-only scans."""
    rng = random.Random(3)
    categories = Category.objects.bulk_create(
        [Category(name=f"Category {n}", slug=f"category-{n}") for n in range(20)]
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
    return CategoryInfo(
        category.id,
        category.name,
        category.slug,
        (Facet("color", "Color"), Facet("weight_g", "Weight", "g", "range", Decimal(0), Decimal(19_980))),
    )


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


def test_a_range_filter_on_a_number_in_details_uses_its_expression_index(big_catalog):
    active = Category.objects.get(slug="category-1")  # products 1, 21, 41...: all active
    filters = ProductFilters(ranges={"weight_g": (Decimal(1_000), Decimal(1_400))}, sort="price")
    matching = _filtered(_info(active), filters)

    count_plan = _plan(matching.values("id"))
    listing_plan = _plan(products_for_listing(category=_info(active), filters=filters)[:24])

    assert "product_weight_g_range" in count_plan, count_plan
    assert "Seq Scan" not in listing_plan, listing_plan
    assert matching.count() == 20  # 1,001 g, 1,021 g ... 1,381 g


def test_the_lowest_and_highest_numbers_of_a_category_read_one_index_entry_each(big_catalog):
    from catalog.models import CategoryFacet

    active = Category.objects.get(slug="category-1")
    CategoryFacet.objects.create(category=active, key="weight_g", label="Weight", unit="g", kind="range")

    category = category_by_slug(active.slug)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + _category_sql(active.slug))
        plan = "\n".join(row[0] for row in cursor.fetchall())

    weight = next(facet for facet in category.facets if facet.key == "weight_g")
    assert (weight.low, weight.high) == (Decimal(1), Decimal(19_981))
    assert "Seq Scan on catalog_product" not in plan, plan
    assert "product_weight_g_range" in plan, plan


def _category_sql(slug: str) -> str:
    """Return the SQL category_by_slug runs (its build's query), with its parameters in it."""
    from django.db.models import OuterRef

    from catalog.selectors import _facet_rows, _numeric_bounds

    bounds = _numeric_bounds(OuterRef("pk"))
    queryset = Category.objects.filter(slug=slug).annotate(facet_rows=_facet_rows(OuterRef("pk")), **bounds)
    sql, params = queryset.values("id", *bounds).query.sql_with_params()
    with connection.cursor() as cursor:
        return cursor.mogrify(sql, params).decode()
