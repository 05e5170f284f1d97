"""The microcache of whole pages for visitors without cookies.

A page served from the cache has no template context (nothing was rendered) and shows what the
database held when it was cached: a plain write (a checkout taking stock, a row written without
the catalog namespace's bump) does not show on it, a bump of the namespace does.
"""

import re

import pytest
from django.test import Client
from django.urls import reverse

from catalog.models import Product
from shopsite.caching.versioned import namespace_bump
from tests.factories import CategoryFactory, ProductFactory
from tests.redis_commands import redis_commands

pytestmark = pytest.mark.django_db


@pytest.fixture
def cached_pages(settings):
    settings.PAGE_CACHE_SECONDS = 30


@pytest.fixture
def shirts():
    return CategoryFactory(slug="shirts", facets=["color"])


@pytest.fixture
def category_url(shirts):
    ProductFactory(category=shirts, name="Blue shirt", stock=9, details={"color": "blue"})
    return reverse("catalog:category", args=["shirts"])


def test_a_visitor_without_cookies_gets_the_page_from_redis(
    client, cached_pages, category_url, django_assert_num_queries
):
    first = client.get(category_url)

    with django_assert_num_queries(0):
        again = client.get(category_url)

    assert first.context is not None  # rendered, then cached
    assert 'cache;desc="0 hits' in first["Server-Timing"]
    assert again.status_code == 200
    assert again.context is None  # nothing rendered
    assert again.content == first.content
    assert 'cache;desc="1 hits 0 misses"' in again["Server-Timing"]


def test_a_visitor_with_a_cookie_always_gets_a_fresh_page(client, cached_pages, category_url):
    client.get(category_url)
    Product.objects.filter(name="Blue shirt").update(stock=0)  # a checkout's write: no catalog bump
    cached = client.get(category_url)

    client.cookies["sessionid"] = "anything"
    fresh = client.get(category_url)

    # Without a cookie, the page cached before the write; with one, a page rendered after it.
    assert cached.context is None
    assert "In stock" in cached.content.decode()
    assert fresh.context is not None
    assert "Out of stock" in fresh.content.decode()
    assert "In stock" not in fresh.content.decode()


def test_a_catalog_write_bumps_the_cached_pages(client, cached_pages, shirts, category_url):
    client.get(category_url)
    ProductFactory(category=shirts, name="Linen shirt", details={"color": "white"})
    before_the_bump = client.get(category_url)

    namespace_bump("catalog")  # what admin saves and imports do once they commit
    after_the_bump = client.get(category_url)

    assert before_the_bump.context is None  # still the cached page, without the new shirt
    assert "Linen shirt" not in before_the_bump.content.decode()
    assert after_the_bump.context is not None  # rendered anew
    assert "Linen shirt" in after_the_bump.content.decode()
    assert "Blue shirt" in after_the_bump.content.decode()
    assert client.get(category_url).context is None  # and cached again, in the new version


def test_errors_are_not_cached(client, cached_pages, category_url):
    bad = client.get(category_url + "?price_min=abc")
    again = client.get(category_url + "?price_min=abc")

    assert bad.status_code == 400
    assert again.status_code == 400
    assert again.context is not None  # rendered again, not served from Redis


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
