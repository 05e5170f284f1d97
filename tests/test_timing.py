"""The Server-Timing header and the slow-query log."""

import logging

import pytest
from django.urls import reverse

from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _entries(response) -> dict[str, str]:
    return {entry.strip().split(";")[0]: entry.strip() for entry in response["Server-Timing"].split(",")}


@pytest.fixture
def category_url():
    shirts = CategoryFactory(slug="shirts", facets=["color"])
    ProductFactory(category=shirts, details={"color": "red"})
    return reverse("catalog:category", args=["shirts"])


def test_server_timing_counts_the_queries_of_each_alias_and_the_cache(
    client, category_url, django_assert_num_queries
):
    with django_assert_num_queries(4):
        cold = client.get(category_url)
    warm = client.get(category_url)

    cold_entries, warm_entries = _entries(cold), _entries(warm)
    assert 'desc="4 queries"' in cold_entries["db-default"]
    assert 'desc="1 query"' in warm_entries["db-default"]
    assert cold_entries["cache"] == 'cache;desc="0 hits 2 misses"'
    assert warm_entries["cache"] == 'cache;desc="2 hits 0 misses"'
    assert cold_entries["app"].startswith("app;dur=")
    assert "db-route" in cold_entries  # the router's entry is kept


def test_with_server_timing_off_no_response_has_the_header(client, category_url, settings):
    settings.SERVER_TIMING = False

    # Cold and warm: queries, cache misses and hits, the router's route; a static file too.
    responses = [client.get(category_url), client.get(category_url), client.get("/static/shopsite/shop.css")]

    assert [response.status_code for response in responses] == [200, 200, 200]
    assert not [response for response in responses if response.has_header("Server-Timing")]


def test_with_server_timing_off_slow_queries_are_still_logged(client, category_url, settings, caplog):
    settings.SERVER_TIMING = False
    settings.SLOW_QUERY_MS = 0  # every query is slow

    with caplog.at_level(logging.WARNING, logger="shopsite.slow_queries"):
        response = client.get(category_url)

    assert not response.has_header("Server-Timing")
    assert [record for record in caplog.records if record.name == "shopsite.slow_queries"]


def test_a_page_without_queries_has_no_db_entry(client):
    response = client.get("/static/shopsite/shop.css")

    assert "db-default" not in response.get("Server-Timing", "")


def test_slow_queries_are_logged_with_path_alias_and_sql_without_parameters(client, settings, caplog):
    settings.SLOW_QUERY_MS = 0  # every query is slow
    secret_slug = "shirts-for-a-secret-customer"
    CategoryFactory(slug=secret_slug)

    with caplog.at_level(logging.WARNING, logger="shopsite.slow_queries"):
        client.get(reverse("catalog:category", args=[secret_slug]))

    lines = [record.getMessage() for record in caplog.records if record.name == "shopsite.slow_queries"]
    assert lines
    assert all(f" on default for /c/{secret_slug}/: " in line for line in lines)
    assert any('FROM "catalog_category"' in line for line in lines)
    assert not any(f"'{secret_slug}'" in line.split(": ", 1)[1] for line in lines)


def test_fast_queries_are_not_logged(client, category_url, caplog):
    with caplog.at_level(logging.WARNING, logger="shopsite.slow_queries"):
        client.get(category_url)

    assert not [record for record in caplog.records if record.name == "shopsite.slow_queries"]
