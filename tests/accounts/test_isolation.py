"""One customer never sees or changes another's orders, cart or account, and no cache carries one
visitor's content to another."""

import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.middleware.csrf import _unmask_cipher_token
from django.test import Client
from django.urls import reverse
from django_redis import get_redis_connection

from accounts.models import Address, Order, OrderStatus, User
from catalog.models import Product
from tests.accounts.helpers import cart_of, checkout_form, place_order, put_in_cart
from tests.factories import (
    AddressFactory,
    CategoryFactory,
    CustomerFactory,
    OrderFactory,
    OrderItemFactory,
    ProductFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    category = CategoryFactory(slug="shirts", facets=["color"])
    return [ProductFactory(category=category, stock=50, price=Decimal("10.00")) for _ in range(3)]


@pytest.fixture
def alice(shop):
    """Customer A: logged in, two orders, a cart of 3 items."""
    customer = CustomerFactory(
        name="Alice Liddell", email="alice@example.com", user=UserFactory(username="alice")
    )
    for _ in range(2):
        OrderItemFactory(order=OrderFactory(customer=customer, total=Decimal("777.77")), product=shop[0])
    AddressFactory(customer=customer, line1="2 Looking-Glass Lane")
    client = Client()
    client.force_login(customer.user)
    put_in_cart(client, {shop[0].pk: 2, shop[1].pk: 1})
    client.customer = customer
    return client


@pytest.fixture
def bob(shop):
    """Customer B: logged in, one order of his own."""
    customer = CustomerFactory(name="Bob", email="bob@example.com", user=UserFactory(username="bob"))
    OrderItemFactory(order=OrderFactory(customer=customer), product=shop[2])
    AddressFactory(customer=customer, line1="1 Bob Street")
    client = Client()
    client.force_login(customer.user)
    client.customer = customer
    return client


def _orders_of(client: Client) -> list[Order]:
    return list(Order.objects.filter(customer=client.customer).order_by("pk"))


# --- Orders --------------------------------------------------------------------------------------


def test_b_gets_404_for_each_of_as_orders(alice, bob):
    for order in _orders_of(alice):
        assert bob.get(reverse("accounts:order", args=[order.pk])).status_code == 404


def test_bs_order_list_shows_none_of_as_orders(alice, bob):
    content = bob.get(reverse("accounts:orders")).content.decode()

    for order in _orders_of(alice):
        assert f"Order #{order.pk}" not in content
    assert "777.77" not in content
    assert f"Order #{_orders_of(bob)[0].pk}" in content


# --- The cart: it lives in each visitor's own session -----------------------------------------------


def test_b_changing_his_cart_never_changes_as(alice, bob, shop):
    as_cart = cart_of(alice)

    bob.post(reverse("accounts:cart_add"), {"product_id": shop[0].pk, "quantity": 5})
    bob.post(reverse("accounts:cart_update"), {"product_id": shop[1].pk, "quantity": 3})  # not in B's cart
    bob.post(reverse("accounts:cart_remove"), {"product_id": shop[1].pk})
    bob.post(reverse("accounts:cart_update"), {"product_id": shop[0].pk, "quantity": 0})

    assert cart_of(alice) == as_cart
    assert cart_of(bob) == {}


def test_b_cannot_remove_or_update_a_line_that_is_only_in_as_cart(alice, bob, shop):
    update = bob.post(reverse("accounts:cart_update"), {"product_id": shop[1].pk, "quantity": 1})
    remove = bob.post(reverse("accounts:cart_remove"), {"product_id": shop[1].pk})

    assert (update.status_code, remove.status_code) == (400, 400)
    assert cart_of(alice) == {str(shop[0].pk): 2, str(shop[1].pk): 1}


def test_bs_checkout_buys_his_cart_only_and_leaves_as_alone(alice, bob, shop, delivery_options):
    as_orders, as_cart = _orders_of(alice), cart_of(alice)
    put_in_cart(bob, {shop[2].pk: 1})

    response = place_order(bob)

    assert response.status_code == 303
    newest = _orders_of(bob)[-1]
    assert list(newest.items.values_list("product_id", "quantity")) == [(shop[2].pk, 1)]
    assert _orders_of(alice) == as_orders
    assert cart_of(alice) == as_cart


def test_b_cannot_send_his_order_to_as_address(alice, bob, shop, delivery_options):
    put_in_cart(bob, {shop[2].pk: 1})
    hers = Address.objects.get(customer=alice.customer)

    response = bob.post(reverse("accounts:checkout"), {**checkout_form(bob), "address": str(hers.pk)})

    assert response.status_code == 400
    assert "Choose one of the addresses shown." in response.content.decode()
    assert not Order.objects.filter(customer=bob.customer, ship_line1=hers.line1).exists()
    assert Product.objects.get(pk=shop[2].pk).stock == 50


def test_b_cannot_cancel_as_order(alice, bob, shop):
    hers = _orders_of(alice)[0]

    response = bob.post(reverse("accounts:order_cancel", args=[hers.pk]))

    assert response.status_code == 404
    assert Order.objects.get(pk=hers.pk).status == OrderStatus.PAID
    assert Product.objects.get(pk=shop[0].pk).stock == 50


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("get", "address_edit"),
        ("post", "address_edit"),
        ("post", "address_delete"),
        ("post", "address_default"),
    ],
)
def test_b_cannot_see_or_change_as_addresses(alice, bob, method, name):
    hers = Address.objects.get(customer=alice.customer)
    form = {"name": "Bob", "line1": "Taken", "city": "Bobton", "postcode": "B1", "country": "Bobland"}

    response = getattr(bob, method)(reverse(f"accounts:{name}", args=[hers.pk]), form)

    assert response.status_code == 404
    hers_now = Address.objects.get(pk=hers.pk)
    assert (hers_now.line1, hers_now.is_default) == ("2 Looking-Glass Lane", True)
    assert Address.objects.get(customer=bob.customer).is_default  # his own default is still his


# --- The account -----------------------------------------------------------------------------------


def test_b_cannot_open_or_change_as_account_in_the_admin(alice, bob):
    url = reverse("admin:accounts_user_change", args=[alice.customer.user.pk])
    bob.get(reverse("accounts:cart"))  # a CSRF cookie, so that only the permission can stop him

    opened = bob.get(url)
    changed = bob.post(
        url,
        {"username": "bob-was-here", "csrfmiddlewaretoken": bob.cookies["csrftoken"].value},
    )

    for response in (opened, changed):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
    assert User.objects.get(pk=alice.customer.user.pk).username == "alice"


def test_b_cannot_sign_up_with_as_email(client, alice):
    password = "plum-orchard-42-lantern"

    response = client.post(
        reverse("accounts:signup"),
        {
            "username": "eve",
            "name": "Eve",
            "email": "ALICE@example.com",
            "password1": password,
            "password2": password,
        },
    )

    assert response.status_code == 200
    assert not User.objects.filter(username="eve").exists()


# --- Caches: nothing of A's reaches B or an anonymous visitor -----------------------------------------


def _as_markers(alice: Client) -> list[str]:
    """Return text that only A's pages may contain."""
    return [
        "alice",
        "Alice Liddell",
        "alice@example.com",
        "777.77",
        *(f"Order #{order.pk}" for order in _orders_of(alice)),
        'aria-label="3 items"',  # A's cart badge
        "Log out",
    ]


@pytest.fixture
def page_cache_on(settings):
    settings.PAGE_CACHE_SECONDS = 30  # the microcache of pages for cookie-less visitors, as in production


def _shop_urls(alice: Client, shop) -> list[str]:
    return [
        reverse("catalog:home"),
        reverse("catalog:category", args=["shirts"]),
        reverse("catalog:category", args=["shirts"]) + "?color=red&sort=-price",
        reverse("catalog:product", args=[shop[0].slug]),
        reverse("accounts:cart"),
        reverse("accounts:orders"),
        *(reverse("accounts:order", args=[order.pk]) for order in _orders_of(alice)),
    ]


def test_pages_a_viewed_show_nothing_of_hers_to_b_or_to_anonymous_visitors(alice, bob, shop, page_cache_on):
    urls = _shop_urls(alice, shop)
    for url in urls:
        assert alice.get(url).status_code == 200, url
    # A's own pages do show her things, so finding none elsewhere means something.
    assert 'aria-label="3 items"' in alice.get(reverse("catalog:home")).content.decode()
    assert f"Order #{_orders_of(alice)[0].pk}" in alice.get(reverse("accounts:orders")).content.decode()

    leaks = []
    for visitor, client in (("B", bob), ("anonymous", Client()), ("anonymous again", Client())):
        for url in urls:
            content = client.get(url).content.decode()
            markers = [marker for marker in _as_markers(alice) if marker in content]
            if visitor == "B":
                markers = [marker for marker in markers if marker != "Log out"]  # B is logged in too
            leaks += [f"{visitor} GET {url} shows {marker!r}" for marker in markers]

    assert not leaks, "\n".join(leaks)


def test_the_cache_holds_nothing_of_as_after_she_browsed(alice, shop, page_cache_on):
    for url in _shop_urls(alice, shop):
        alice.get(url)
    Client().get(reverse("catalog:home"))  # a cookie-less visit, so the page cache has entries too
    Client().get(reverse("catalog:category", args=["shirts"]))

    redis = get_redis_connection("default")
    session_keys = f"{settings.CACHES['default']['KEY_PREFIX']}:1:django.contrib.sessions.cached_db"
    found = []
    keys = [key.decode() for key in redis.scan_iter(count=1000)]
    assert any(":catalog:" in key for key in keys), keys  # the catalog's fragments and pages are there
    for key in keys:
        if key.startswith(session_keys):
            continue  # a session, readable only with its own key
        value = redis.get(key) or b""
        found += [f"{key} holds {marker!r}" for marker in _as_markers(alice) if marker.encode() in value]

    assert not found, "\n".join(found)


def test_pages_with_a_visitors_header_say_they_vary_by_cookie(alice, shop):
    # So that no shared HTTP cache (a CDN, a proxy) serves A's page to someone else.
    for url in _shop_urls(alice, shop):
        response = alice.get(url)
        assert "Cookie" in response.get("Vary", ""), url


def _csrf_secret_in(content: str) -> str:
    token = re.search(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"', content)[1]
    return _unmask_cipher_token(token)


def test_pages_from_the_cache_carry_each_visitors_own_parts_and_nobody_elses(alice, bob, shop, page_cache_on):
    catalog_urls = _shop_urls(alice, shop)[:4]  # the cached ones: home, category pages, a product
    for url in catalog_urls:
        Client().get(url)  # a new visitor's request caches the page
    anonymous = Client()

    leaks = []
    for url in catalog_urls:
        hers, his, nobodys = alice.get(url), bob.get(url), anonymous.get(url)
        assert (hers.context, his.context, nobodys.context) == (None, None, None), url  # all from Redis
        assert 'aria-label="3 items"' in hers.content.decode(), url  # her own parts are on her page
        for visitor, response in (("B", his), ("anonymous", nobodys)):
            content = response.content.decode()
            markers = [marker for marker in _as_markers(alice) if marker in content]
            if visitor == "B":
                markers = [marker for marker in markers if marker != "Log out"]  # B is logged in too
            leaks += [f"{visitor} GET {url} shows {marker!r}" for marker in markers]
    product = _shop_urls(alice, shop)[3]
    for client in (alice, bob, anonymous):
        # Each visitor's forms carry a token of their own CSRF secret, the one in their cookie.
        secret = _csrf_secret_in(client.get(product).content.decode())
        assert secret == client.cookies[settings.CSRF_COOKIE_NAME].value

    assert not leaks, "\n".join(leaks)
