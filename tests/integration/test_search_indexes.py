"""EXPLAIN shows the search reads its indexes and never scans the product table, on enough data:
24,000 demo products in 12 categories (names, categories and facets as the demo shop has them),
analysed."""

import random
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
    return body.replace("%", "%%").replace("$1", "%(query)s").replace("$2", "%(words)s")


@pytest.mark.parametrize(
    ("typed", "trigrams_read"),
    [
        ("sneaker", False),
        ("lumen ultrab", False),
        ("black", False),
        ("ultarbook", True),
        ("lumen wrokstation", True),
    ],
)
def test_the_matching_function_reads_the_full_text_index_and_the_trigram_one_only_when_needed(
    catalog, typed, trigrams_read
):
    body, config = _matching_function_body()
    terms = SearchTerms.of(typed)
    with connection.cursor() as cursor:  # the function's own threshold, for this transaction
        for setting in config:
            name, value = setting.split("=", 1)
            cursor.execute("SELECT set_config(%s, %s, true)", [name, value])

    plan = _explain(_with_arguments(body), {"query": terms.text, "words": terms.words})

    assert config == ["pg_trgm.word_similarity_threshold=0.3"]
    assert "Bitmap Index Scan on product_search_vector" in plan, plan
    trigram_scan = next(line for line in plan.splitlines() if "on product_search_text_trgm" in line)
    assert ("never executed" not in trigram_scan) is trigrams_read, plan
    assert "Seq Scan" not in plan, plan


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
    search = SearchTerms.of(typed)
    exact = search_summary(search=search, category=category, filters=filters).exact

    plan = _plan(search_results(search=search, category=category, filters=filters, exact=exact)[:24])

    if exact:  # the full-text condition in the page's own query: an index the planner picks
        assert "catalog_product_matches" not in plan, plan
        assert "Index Scan" in plan, plan
    else:  # the products like the words, from the function
        assert "Function Scan on catalog_product_matches" in plan, plan
    assert exact is (typed != "ultarbook")
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
