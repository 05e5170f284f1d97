"""EXPLAIN shows the search reads its indexes and never scans the product table, on enough data:
24,000 demo products in 12 categories (names, categories and facets as the demo shop has them),
analysed."""

import random
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection

from catalog.demo import catalog_seed
from catalog.filters import ProductFilters, SearchTerms
from catalog.selectors import (
    category_by_slug,
    matched_rows_sql,
    search_results,
    search_summary,
    search_summary_branches,
)

# Each test in a transaction rolled back: the catalog, committed once for the module, stays.
pytestmark = [pytest.mark.integration, pytest.mark.django_db]

PRODUCTS = 24_000


@pytest.fixture(scope="module")
def demo_catalog(django_db_setup, django_db_blocker):
    """The demo catalog at 24,000 products, analysed; emptied after the module's tests."""
    with django_db_blocker.unblock():
        catalog_seed(
            rng=random.Random(7), categories=12, products=PRODUCTS, now=datetime(2026, 1, 1, tzinfo=UTC)
        )
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE catalog_product")
        yield
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM catalog_product; DELETE FROM catalog_categoryfacet; DELETE FROM catalog_category"
            )


@pytest.fixture
def catalog(demo_catalog, db):
    """The demo catalog, inside the test's transaction."""


def _explain(sql: str, params=()) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def _plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    return _explain(sql, params)


def _matching_function_body() -> tuple[str, list[str]]:
    """Return the body of catalog_product_matches and its SET clauses, as the database has them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT prosrc, proconfig FROM pg_proc WHERE proname = 'catalog_product_matches'")
        return cursor.fetchone()


def _with_arguments(body: str) -> str:
    """Return the function's body with its arguments as query parameters (and its % escaped)."""
    return re.sub(r"\bquery\b", "%(query)s", re.sub(r"\bwords\b", "%(words)s", body.replace("%", "%%")))


@pytest.mark.parametrize("typed", ["ultarbook", "sneaker", "lumen ultrab", "black"])
def test_the_matching_function_reads_the_full_text_and_trigram_indexes_at_once(catalog, typed):
    body, config = _matching_function_body()
    terms = SearchTerms.of(typed)
    # The body with its arguments in place, run with the function's own threshold.
    sql = _with_arguments(body)
    with connection.cursor() as cursor:
        for setting in config:
            name, value = setting.split("=", 1)
            cursor.execute("SELECT set_config(%s, %s, true)", [name, value])

    plan = _explain(sql, {"query": terms.text, "words": terms.words})

    assert config == ["pg_trgm.word_similarity_threshold=0.4"]
    assert "BitmapOr" in plan, plan
    assert "Bitmap Index Scan on product_search_vector" in plan, plan
    assert "Bitmap Index Scan on product_search_text_trgm" in plan, plan
    assert "Seq Scan" not in plan, plan


def test_a_query_with_nothing_to_look_up_reads_no_index_at_all(catalog):
    body, _config = _matching_function_body()
    sql = _with_arguments(body)

    plan = _explain(sql, {"query": "-laptop", "words": None})  # only a negation: every other product

    assert "One-Time Filter: false" in plan, plan


@pytest.mark.parametrize(
    ("typed", "slug", "filters"),
    [
        ("ultarbook", None, ProductFilters(sort="relevance")),
        ("black", None, ProductFilters(sort="relevance")),
        ("lumen", "laptops", ProductFilters(sort="relevance", ranges={"ram_gb": (Decimal(16), Decimal(32))})),
        ("phone", "phones", ProductFilters(sort="price", attributes={"color": ("red",)})),
    ],
)
def test_a_page_of_results_never_scans_the_product_table(catalog, typed, slug, filters):
    category = category_by_slug(slug) if slug else None

    plan = _plan(search_results(search=SearchTerms.of(typed), category=category, filters=filters)[:24])

    assert "Function Scan on catalog_product_matches" in plan, plan
    assert "Seq Scan on catalog_product" not in plan, plan


@pytest.mark.parametrize(("typed", "slug"), [("ultarbook", None), ("black", None), ("lumen", "laptops")])
def test_the_summary_finds_the_matches_once_and_never_scans_the_product_table(catalog, typed, slug):
    category = category_by_slug(slug) if slug else None
    filters = ProductFilters(price_min=Decimal(10), sort="relevance")
    branches = search_summary_branches(category=category, filters=filters)
    sql, params = matched_rows_sql(branches, SearchTerms.of(typed), using="default")

    plan = _explain(sql, params)

    assert plan.count("Function Scan on catalog_product_matches") == 1, plan
    assert "Seq Scan on catalog_product" not in plan, plan
    summary = search_summary(search=SearchTerms.of(typed), category=category, filters=filters)
    assert summary.count > 0
