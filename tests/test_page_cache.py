"""The microcache of whole pages, with each visitor's own parts filled in.

A page served from the cache has no template context (nothing was rendered) and shows what the
database held when it was cached: a plain write (a checkout taking stock, a row written without
the catalog namespace's bump) does not show on it, a bump of the namespace does. A visitor's own
parts (the header's cart count and account links, messages, CSRF tokens) are theirs on every page.
"""

import re
import time

import pytest
from django.conf import settings
from django.core import signing
from django.test import Client
from django.urls import reverse

from catalog.models import Product
from shopsite.caching.page_cache import CSRF_PLACEHOLDER, FRESH_PAGES_UNTIL
from shopsite.caching.versioned import namespace_bump
from shopsite.db.routing import COOKIE_SALT as ROUTING_COOKIE_SALT
from tests.accounts.helpers import place_order, put_in_cart
from tests.factories import AddressFactory, CategoryFactory, CustomerFactory, ProductFactory, UserFactory
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


@pytest.fixture
def pages(shirts, category_url):
    """The cached pages: home, a filtered category page and a product page (with a form)."""
    product = ProductFactory(category=shirts, name="Red shirt", stock=40, details={"color": "red"})
    return {
        "home": reverse("catalog:home"),
        "category": category_url + "?color=blue",
        "product": product.get_absolute_url(),
        "search": reverse("catalog:search") + "?q=red+shrit",
    }


def _csrf_cookie(client: Client) -> None:
    """Give the client the CSRF cookie a browser keeps from the first page with a form."""
    client.get(reverse("accounts:login"))
    assert settings.CSRF_COOKIE_NAME in client.cookies


@pytest.mark.parametrize("n", [3, 40])
@pytest.mark.parametrize("page", ["home", "category", "product", "search"])
def test_a_visitor_with_only_a_csrf_cookie_gets_the_cached_page_with_no_query(
    client, cached_pages, shirts, pages, page, n, django_assert_num_queries
):
    ProductFactory.create_batch(n, category=shirts, details={"color": "blue"})
    Client().get(pages[page])  # a new visitor's request caches it
    _csrf_cookie(client)

    with django_assert_num_queries(0), redis_commands() as ran:
        response = client.get(pages[page])

    assert response.status_code == 200
    assert response.context is None  # nothing rendered
    assert ran == {"mget": 1}
    assert "Log in" in response.content.decode()


def test_cookies_the_site_never_reads_do_not_make_a_page_personal(client, cached_pages, pages):
    first = Client().get(pages["category"])
    client.cookies["_ga"] = "GA1.1.123"  # an analytics cookie, a consent banner's, ...
    client.cookies["theme"] = "dark"

    again = client.get(pages["category"])

    assert first.context is not None
    assert again.context is None
    assert again.content == first.content


@pytest.mark.parametrize("n", [3, 40])
@pytest.mark.parametrize("page", ["home", "category", "product", "search"])
def test_a_signed_in_customer_with_a_cart_gets_the_cached_page_with_their_parts_in_one_query(
    client, cached_pages, shirts, pages, page, n, django_assert_num_queries
):
    ProductFactory.create_batch(n, category=shirts, details={"color": "blue"})
    Client().get(pages[page])
    client.force_login(UserFactory(username="carol"))
    put_in_cart(client, {ProductFactory(category=shirts).pk: 3})

    with django_assert_num_queries(1) as ran_sql, redis_commands() as ran:  # the user
        response = client.get(pages[page])

    content = response.content.decode()
    assert response.context is None
    assert "accounts_user" in ran_sql.captured_queries[0]["sql"]
    assert ran == {"mget": 1, "get": 1}  # the page with its namespace's version; the session
    assert 'aria-label="3 items"' in content
    assert "Orders" in content
    assert "Log out" in content
    assert "Log in" not in content
    assert CSRF_PLACEHOLDER.decode() not in content
    assert "page-part" not in content


def test_a_cached_page_shows_the_visitors_messages_once(client, cached_pages, shirts, pages):
    product = ProductFactory(category=shirts, stock=5)
    Client().get(product.get_absolute_url())
    _csrf_cookie(client)
    client.post(reverse("accounts:cart_add"), {"product_id": product.pk, "quantity": 1})
    client.cookies.pop(settings.READ_YOUR_WRITES_COOKIE, None)  # as once the replica has caught up

    with_message = client.get(product.get_absolute_url())
    after = client.get(product.get_absolute_url())

    assert with_message.context is None
    assert after.context is None
    assert '<li class="message success">Added to your cart.</li>' in with_message.content.decode()
    assert 'aria-label="1 items"' in with_message.content.decode()
    assert "Added to your cart." not in after.content.decode()


def test_a_visitor_whose_write_the_replica_may_not_show_yet_gets_a_fresh_page(
    client, cached_pages, category_url
):
    client.get(category_url)
    Product.objects.filter(name="Blue shirt").update(stock=0)  # a checkout's write: no catalog bump
    cached = client.get(category_url)

    client.cookies[settings.READ_YOUR_WRITES_COOKIE] = signing.get_cookie_signer(
        salt=settings.READ_YOUR_WRITES_COOKIE + ROUTING_COOKIE_SALT
    ).sign("1")
    fresh = client.get(category_url)

    assert cached.context is None
    assert "In stock" in cached.content.decode()
    assert fresh.context is not None
    assert "Out of stock" in fresh.content.decode()


def test_a_forged_read_your_writes_cookie_gets_the_cached_page(client, cached_pages, category_url):
    client.get(category_url)
    client.cookies[settings.READ_YOUR_WRITES_COOKIE] = "1:forged"

    assert client.get(category_url).context is None


def test_a_customer_who_just_ordered_sees_the_stock_they_took_while_others_see_the_cached_page(
    client, cached_pages, shirts, delivery_options
):
    product = ProductFactory(category=shirts, name="Last shirts", stock=3)
    customer = CustomerFactory(user=UserFactory(username="dora"))
    AddressFactory(customer=customer)
    Client().get(product.get_absolute_url())  # cached: "Only 3 left"
    client.force_login(customer.user)
    put_in_cart(client, {product.pk: 3})

    placed = place_order(client)
    client.get(placed["Location"])  # the order page; the replica has caught up: the cookie goes
    client.cookies.pop(settings.READ_YOUR_WRITES_COOKIE, None)
    hers = client.get(product.get_absolute_url())
    others = Client().get(product.get_absolute_url())

    assert placed.status_code == 303
    assert hers.context is not None  # rendered for her
    assert "Out of stock" in hers.content.decode()
    assert others.context is None
    assert "Only 3 left" in others.content.decode()  # at most PAGE_CACHE_SECONDS old


def test_after_the_fresh_window_an_ordering_customer_gets_cached_pages_again(client, cached_pages, shirts):
    product = ProductFactory(category=shirts, stock=3)
    client.force_login(CustomerFactory(user=UserFactory()).user)
    session = client.session
    session[FRESH_PAGES_UNTIL] = time.time() - 1  # ordered a while ago
    session.save()
    Client().get(product.get_absolute_url())

    assert client.get(product.get_absolute_url()).context is None


def test_a_miss_by_a_signed_in_customer_stores_the_page_rendered_for_nobody(
    client, cached_pages, category_url
):
    client.force_login(UserFactory(username="erin"))
    put_in_cart(client, {Product.objects.get(name="Blue shirt").pk: 2})
    messages_cookie = "a-message"  # her messages cookie is hers too: not sent to the nobody render
    client.cookies["messages"] = messages_cookie

    hers = client.get(category_url)
    anonymous = Client().get(category_url)

    assert hers.context is not None  # rendered, for nobody
    assert hers.context["user"].is_anonymous
    assert hers.context["cart_count"] == 0
    assert 'aria-label="2 items"' in hers.content.decode()  # her parts, filled in afterwards
    assert "Log out" in hers.content.decode()
    assert anonymous.context is None  # from the cache, stored by her request
    assert "erin" not in anonymous.content.decode()
    assert 'aria-label="2 items"' not in anonymous.content.decode()
    assert "Log out" not in anonymous.content.decode()


def test_text_from_the_database_cannot_forge_a_placeholder(client, cached_pages, shirts):
    forged = ProductFactory(category=shirts, name="<!--page-part:account--><!--csrf-token-->")
    Client().get(forged.get_absolute_url())
    client.force_login(UserFactory(username="frank"))

    content = client.get(forged.get_absolute_url()).content.decode()

    assert content.count("Log out") == 1  # the header's, not one in the product's name
    assert "&lt;!--page-part:account--&gt;&lt;!--csrf-token--&gt;" in content


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
