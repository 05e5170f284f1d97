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


def _matching_function_body() -> str:
    """Return the body of catalog_product_matches, as the database has it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = 'catalog_product_matches'")
        return cursor.fetchone()[0]


def _with_arguments(body: str) -> str:
    """Return the function's body with its arguments as query parameters (and its % escaped)."""
    return body.replace("%", "%%").replace("$1", "%(query)s").replace("$2", "%(words)s")


def _rows(plan: str, node: str) -> list[int]:
    """Return the rows each node of the plan whose line has `node` found, in the plan's order."""
    return [int(re.search(r"rows=(\d+) loops", line)[1]) for line in plan.splitlines() if node in line]


@pytest.mark.parametrize(
    ("typed", "corrected"),
    [
        ("sneaker", False),
        ("lumen ultrab", False),
        ("black", False),
        ("ultarbook", True),
        ("lumen wrokstation", True),
    ],
)
def test_the_matching_function_reads_the_full_text_index_and_the_words_only_when_needed(
    catalog, typed, corrected
):
    terms = SearchTerms.of(typed)

    plan = _explain(_with_arguments(_matching_function_body()), {"query": terms.text, "words": terms.words})

    # Full text first; then, only when it found nothing, the words nearest those typed (looked
    # up once, in the word list: an InitPlan) through the same index.
    exact, nearest = _rows(plan, "Bitmap Index Scan on product_search_vector")
    assert (exact == 0) is corrected, plan
    assert (nearest > 0) is corrected, plan
    assert "One-Time Filter: (NOT $1)" in plan, plan
    assert "Seq Scan on catalog_product" not in plan, plan


def test_the_word_list_is_the_catalogs_words_not_its_products(catalog):
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM catalog_searchword")
        words = cursor.fetchone()[0]

    assert 50 < words < 1_000  # a few hundred, whatever the number of products


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

    # The full-text condition in the page's own query, exact or corrected: an index the planner picks.
    assert "catalog_product_matches" not in plan, plan
    assert "Index Scan" in plan, plan
    if not exact:  # the corrected words looked up once (an InitPlan), not for each row ranked
        assert "InitPlan" in plan, plan
    assert exact is (typed != "ultarbook")
    assert "Seq Scan on catalog_product" not in plan, plan


@pytest.mark.parametrize(("typed", "slug"), [("ultarbook", None), ("black", None), ("lumen", "laptops")])
def test_the_summary_finds_the_matches_once_and_never_scans_the_product_table(catalog, typed, slug):
    category = category_by_slug(slug) if slug else None
    filters = ProductFilters(price_min=Decimal(10), sort="relevance")
    branches = search_summary_branches(category=category, filters=filters)
    sql, params = matched_rows_sql(branches, SearchTerms.of(typed), using="default")

    plan = _explain(sql, params)

    # The matches found once, in the one CTE every branch reads: full text, then the nearest words.
    assert plan.count("CTE catalog_product\n") == 1, plan
    assert plan.count("Bitmap Index Scan on product_search_vector") == 2, plan
    assert "Seq Scan on catalog_product" not in plan, plan
    summary = search_summary(search=SearchTerms.of(typed), category=category, filters=filters)
    assert summary.count > 0
