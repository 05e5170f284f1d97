"""The microcache of whole pages for visitors without cookies."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import CategoryFactory, ProductFactory
from tests.redis_commands import redis_commands

pytestmark = pytest.mark.django_db


@pytest.fixture
def cached_pages(settings):
    settings.PAGE_CACHE_SECONDS = 30


@pytest.fixture
def category_url():
    shirts = CategoryFactory(slug="shirts", facets=["color"])
    ProductFactory(category=shirts, name="Blue shirt", stock=9, details={"color": "blue"})
    return reverse("catalog:category", args=["shirts"])


def test_a_visitor_without_cookies_gets_the_page_from_redis(
    client, cached_pages, category_url, django_assert_num_queries
):
    first = client.get(category_url)

    with django_assert_num_queries(0):
        again = client.get(category_url)

    assert again.status_code == 200
    assert again.content == first.content
    assert 'cache;desc="1 hits' in again["Server-Timing"]


def test_a_visitor_with_a_cookie_always_gets_a_fresh_page(client, cached_pages, category_url):
    client.get(category_url)
    ProductFactory(category=CategoryFactory(), name="Elsewhere")  # no catalog bump: a plain write
    shirt = client.get(category_url).context  # cached for the cookie-less: no context

    client.cookies["sessionid"] = "anything"
    fresh = client.get(category_url)

    assert shirt is None
    assert fresh.context is not None  # rendered


def test_a_catalog_write_bumps_the_cached_pages(client, cached_pages, category_url):
    client.get(category_url)
    from shopsite.caching.versioned import namespace_bump

    namespace_bump("catalog")
    again = client.get(category_url)

    assert again.context is not None


def test_errors_are_not_cached(client, cached_pages, category_url):
    bad = client.get(category_url + "?price_min=abc")

    assert bad.status_code == 400
    assert client.get(category_url + "?price_min=abc").context is not None


def test_a_cached_page_with_a_form_gives_each_visitor_a_csrf_token_of_their_own(cached_pages):
    product = ProductFactory(category=CategoryFactory(), stock=5)
    first, second = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)

    first_page = first.get(product.get_absolute_url())
    second_page = second.get(product.get_absolute_url())  # from Redis
    token = re.search(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"', second_page.content.decode())[1]
    added = second.post(
        reverse("accounts:cart_add"), {"product_id": product.pk, "quantity": 1, "csrfmiddlewaretoken": token}
    )

    assert first_page.context is not None
    assert second_page.context is None
    assert token not in first_page.content.decode()
    assert "csrftoken" in second_page.cookies
    assert added.status_code in (302, 303)


def test_a_cached_page_costs_one_redis_round_trip(client, cached_pages, category_url):
    client.get(category_url)

    with redis_commands() as ran:
        again = client.get(category_url)

    assert 'cache;desc="1 hits' in again["Server-Timing"]
    assert ran == {"mget": 1}
