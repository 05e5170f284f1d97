"""The microcache of whole pages for visitors without cookies."""

import pytest
from django.urls import reverse

from tests.factories import CategoryFactory, ProductFactory

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
    from shopsite.cache import namespace_bump

    namespace_bump("catalog")
    again = client.get(category_url)

    assert again.context is not None


def test_pages_with_a_csrf_token_or_an_error_are_not_cached(client, cached_pages, category_url):
    product_url = ProductFactory(category=CategoryFactory()).get_absolute_url()
    client.get(product_url)  # has the add-to-cart form: a CSRF token for this visitor
    client.cookies.clear()
    bad = client.get(category_url + "?price_min=abc")
    client.cookies.clear()

    assert client.get(product_url).context is not None
    assert bad.status_code == 400
    assert client.get(category_url + "?price_min=abc").context is not None
