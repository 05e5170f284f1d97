from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.contrib.messages import get_messages
from django.contrib.sessions.backends.cached_db import SessionStore
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.cart import MAX_LINES, Cart
from accounts.context_processors import cart as cart_context
from catalog.models import Product
from tests.accounts.helpers import cart_of, put_in_cart
from tests.conftest import fuzz_examples
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

CART = reverse("accounts:cart")
ADD = reverse("accounts:cart_add")
UPDATE = reverse("accounts:cart_update")
REMOVE = reverse("accounts:cart_remove")


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- The cart page ----------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 30])
def test_cart_page_queries_do_not_grow(client, django_assert_num_queries, n):
    category = CategoryFactory()
    products = ProductFactory.create_batch(n, category=category, price=Decimal("2.50"))
    put_in_cart(client, {product.pk: 2 for product in products})

    # the cart's products, in one query (the session itself is read from Redis, and nobody is logged in)
    with django_assert_num_queries(1):
        response = client.get(CART)

    assert response.status_code == 200
    assert len(response.context["summary"].lines) == n
    assert response.context["summary"].total == Decimal("5.00") * n


def test_empty_cart_page_runs_no_query(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get(CART)

    assert response.status_code == 200
    assert b"Your cart is empty" in response.content


def test_cart_page_totals_at_current_prices(client):
    shirt = ProductFactory(name="Shirt", price=Decimal("10.00"))
    socks = ProductFactory(name="Socks", price=Decimal("3.25"))
    put_in_cart(client, {shirt.pk: 2, socks.pk: 3})
    Product.objects.filter(pk=shirt.pk).update(price=Decimal("12.50"))

    response = client.get(CART)

    assert response.context["summary"].total == Decimal("34.75")
    assert b"$34.75" in response.content
    assert reverse("accounts:checkout").encode() in response.content


def test_cart_page_names_a_line_short_of_stock_and_leaves_it_out_of_the_total(client):
    lamp = ProductFactory(name="Desk lamp", price=Decimal("40.00"), stock=1)
    pen = ProductFactory(name="Pen", price=Decimal("2.00"), stock=10)
    put_in_cart(client, {lamp.pk: 3, pen.pk: 1})

    response = client.get(CART)

    summary = response.context["summary"]
    assert [line.problem for line in summary.lines] == ["Only 1 left", ""]
    assert summary.total == Decimal("2.00")
    assert not summary.can_check_out
    assert "Desk lamp</strong>: Only 1 left" in response.content.decode()
    assert reverse("accounts:checkout").encode() not in response.content


def test_cart_page_says_sold_out_when_no_stock_is_left(client):
    put_in_cart(client, {ProductFactory(name="Kettle", stock=0).pk: 1})

    response = client.get(CART)

    assert "Kettle</strong>: Sold out" in response.content.decode()


def test_cart_page_says_inactive_and_deleted_products_are_no_longer_available(client):
    retired = ProductFactory(name="Old model", is_active=False, price=Decimal("9.00"))
    deleted_id = ProductFactory().pk + 1000
    kept = ProductFactory(price=Decimal("1.00"))
    put_in_cart(client, {retired.pk: 1, deleted_id: 2, kept.pk: 1})

    response = client.get(CART)

    content = response.content.decode()
    assert "Old model</strong>: No longer available" in content
    assert f"Item #{deleted_id}</strong>: No longer available" in content
    assert response.context["summary"].total == Decimal("1.00")
    assert not response.context["summary"].can_check_out


def test_cart_page_ignores_malformed_session_entries(client):
    product = ProductFactory()
    put_in_cart(client, {product.pk: 2})
    session = client.session
    session["cart"] |= {"abc": 1, "7": "2", "8": 500, "9": -1, "10": True}
    session.save()

    response = client.get(CART)

    assert response.status_code == 200
    assert [(line.product_id, line.quantity) for line in response.context["summary"].lines] == [
        (product.pk, 2)
    ]


def test_cart_count_comes_from_the_session_without_a_query(rf, django_assert_num_queries):
    request = rf.get("/")
    request.session = SessionStore()
    Cart(request.session).set(5, 2)
    Cart(request.session).set(6, 3)

    with django_assert_num_queries(0):
        assert cart_context(request) == {"cart_count": 5}


def test_header_shows_the_cart_count(client):
    first, second = ProductFactory(), ProductFactory()
    put_in_cart(client, {first.pk: 2, second.pk: 1})

    response = client.get(CART)

    assert response.context["cart_count"] == 3
    assert b'<span class="badge" aria-label="3 items">3</span>' in response.content


def test_cart_is_get_only(client):
    assert client.post(CART).status_code == 405


# --- Adding -----------------------------------------------------------------------------------


def test_add_puts_the_product_in_the_cart_and_redirects_to_it(client):
    product = ProductFactory()

    response = client.post(ADD, {"product_id": product.pk, "quantity": 2})

    assert response.status_code == 303
    assert response["Location"] == CART
    assert cart_of(client) == {str(product.pk): 2}
    assert _messages(response) == ["Added to your cart."]


def test_add_again_adds_to_the_quantity(client):
    product = ProductFactory()
    client.post(ADD, {"product_id": product.pk, "quantity": 2})

    client.post(ADD, {"product_id": product.pk, "quantity": 3})

    assert cart_of(client) == {str(product.pk): 5}


def test_add_goes_back_to_a_next_url_on_this_site(client):
    product = ProductFactory()

    response = client.post(ADD, {"product_id": product.pk, "quantity": 1, "next": product.get_absolute_url()})

    assert response.status_code == 303
    assert response["Location"] == product.get_absolute_url()


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"]
)
def test_add_never_redirects_off_site(client, next_url):
    product = ProductFactory()

    response = client.post(ADD, {"product_id": product.pk, "quantity": 1, "next": next_url})

    assert response["Location"] == CART


def test_add_more_than_the_stock_is_refused(client):
    product = ProductFactory(name="Tent", stock=3)
    put_in_cart(client, {product.pk: 2})

    response = client.post(ADD, {"product_id": product.pk, "quantity": 2})

    assert response.status_code == 400
    assert "Only 3 of Tent left." in response.content.decode()
    assert cart_of(client) == {str(product.pk): 2}


def test_add_beyond_99_of_one_product_is_refused(client):
    product = ProductFactory(stock=500)
    put_in_cart(client, {product.pk: 98})

    response = client.post(ADD, {"product_id": product.pk, "quantity": 2})

    assert response.status_code == 400
    assert "at most 99 of one product" in response.content.decode()
    assert cart_of(client) == {str(product.pk): 98}


def test_add_to_a_full_cart_is_refused(client):
    products = ProductFactory.create_batch(MAX_LINES + 1, category=CategoryFactory())
    put_in_cart(client, {product.pk: 1 for product in products[:MAX_LINES]})

    response = client.post(ADD, {"product_id": products[-1].pk, "quantity": 1})

    assert response.status_code == 400
    assert "Your cart is full" in response.content.decode()
    assert str(products[-1].pk) not in cart_of(client)


BAD_ADDS = {
    "product id not a number": lambda p: {"product_id": "abc", "quantity": "1"},
    "quantity not a number": lambda p: {"product_id": p.active, "quantity": "two"},
    "quantity a fraction": lambda p: {"product_id": p.active, "quantity": "1.5"},
    "quantity 0": lambda p: {"product_id": p.active, "quantity": "0"},
    "quantity -1": lambda p: {"product_id": p.active, "quantity": "-1"},
    "quantity 100": lambda p: {"product_id": p.active, "quantity": "100"},
    "quantity 10**30": lambda p: {"product_id": p.active, "quantity": str(10**30)},
    "quantity of 5000 digits": lambda p: {"product_id": p.active, "quantity": "9" * 5000},
    "quantity with NUL": lambda p: {"product_id": p.active, "quantity": "1\x00"},
    "quantity empty": lambda p: {"product_id": p.active, "quantity": ""},
    "quantity missing": lambda p: {"product_id": p.active},
    "product missing": lambda p: {"quantity": "1"},
    "product id 10**30": lambda p: {"product_id": str(10**30), "quantity": "1"},
    "product id -1": lambda p: {"product_id": "-1", "quantity": "1"},
    "unknown product": lambda p: {"product_id": p.unknown, "quantity": "1"},
    "inactive product": lambda p: {"product_id": p.inactive, "quantity": "1"},
    "product id repeated": lambda p: {"product_id": [p.active, p.other], "quantity": "1"},
    "quantity repeated": lambda p: {"product_id": p.active, "quantity": ["1", "2"]},
}


class _Ids:
    def __init__(self):
        self.active = ProductFactory(stock=50).pk
        self.other = ProductFactory(stock=50).pk
        self.inactive = ProductFactory(is_active=False).pk
        self.unknown = self.other + 1000


@pytest.mark.parametrize("make_data", BAD_ADDS.values(), ids=BAD_ADDS.keys())
def test_bad_add_is_a_400_with_a_message_and_changes_nothing(client, make_data):
    ids = _Ids()
    put_in_cart(client, {ids.active: 1})

    response = client.post(ADD, make_data(ids))

    assert response.status_code == 400
    assert _messages(response), "the cart page says what was wrong"
    assert cart_of(client) == {str(ids.active): 1}


def test_add_refused_message_is_shown_on_the_cart_page(client):
    product = ProductFactory()

    response = client.post(ADD, {"product_id": product.pk, "quantity": "100"})

    assert "You can buy at most 99 of one product." in response.content.decode()


def test_add_is_post_only(client):
    assert client.get(ADD).status_code == 405


def test_add_without_a_csrf_token_is_refused(db):
    client = Client(enforce_csrf_checks=True)
    product = ProductFactory()

    response = client.post(ADD, {"product_id": product.pk, "quantity": 1})

    assert response.status_code == 403
    assert cart_of(client) == {}


# --- Updating and removing --------------------------------------------------------------------


def test_update_sets_the_quantity(client):
    product = ProductFactory()
    put_in_cart(client, {product.pk: 5})

    response = client.post(UPDATE, {"product_id": product.pk, "quantity": 2})

    assert response.status_code == 303
    assert cart_of(client) == {str(product.pk): 2}


def test_update_to_zero_removes_the_line(client):
    kept, dropped = ProductFactory(), ProductFactory()
    put_in_cart(client, {kept.pk: 1, dropped.pk: 4})

    client.post(UPDATE, {"product_id": dropped.pk, "quantity": 0})

    assert cart_of(client) == {str(kept.pk): 1}


def test_update_to_zero_removes_a_product_no_longer_sold(client):
    retired = ProductFactory(is_active=False)
    put_in_cart(client, {retired.pk: 1})

    response = client.post(UPDATE, {"product_id": retired.pk, "quantity": 0})

    assert response.status_code == 303
    assert cart_of(client) == {}


def test_update_above_the_stock_is_refused(client):
    product = ProductFactory(name="Chair", stock=4)
    put_in_cart(client, {product.pk: 1})

    response = client.post(UPDATE, {"product_id": product.pk, "quantity": 5})

    assert response.status_code == 400
    assert "Only 4 of Chair left." in response.content.decode()
    assert cart_of(client) == {str(product.pk): 1}


def test_update_of_a_product_not_in_the_cart_is_refused(client):
    in_cart, elsewhere = ProductFactory(), ProductFactory()
    put_in_cart(client, {in_cart.pk: 1})

    response = client.post(UPDATE, {"product_id": elsewhere.pk, "quantity": 2})

    assert response.status_code == 400
    assert "That product is not in your cart." in response.content.decode()
    assert cart_of(client) == {str(in_cart.pk): 1}


@pytest.mark.parametrize(
    "quantity",
    ["-1", "100", "x", "", str(10**30), ["1", "2"]],
    ids=["-1", "100", "x", "empty", "huge", "twice"],
)
def test_bad_update_is_a_400_and_changes_nothing(client, quantity):
    product = ProductFactory()
    put_in_cart(client, {product.pk: 3})

    response = client.post(UPDATE, {"product_id": product.pk, "quantity": quantity})

    assert response.status_code == 400
    assert cart_of(client) == {str(product.pk): 3}


def test_remove_takes_out_only_that_product(client):
    kept, dropped = ProductFactory(), ProductFactory()
    put_in_cart(client, {kept.pk: 1, dropped.pk: 2})

    response = client.post(REMOVE, {"product_id": dropped.pk})

    assert response.status_code == 303
    assert cart_of(client) == {str(kept.pk): 1}


def test_remove_works_for_a_deleted_product(client):
    put_in_cart(client, {123456: 1})

    client.post(REMOVE, {"product_id": 123456})

    assert cart_of(client) == {}


@pytest.mark.parametrize("product_id", ["abc", "", "-5", str(10**30), "999999"])
def test_bad_remove_is_a_400_and_changes_nothing(client, product_id):
    product = ProductFactory()
    put_in_cart(client, {product.pk: 3})

    response = client.post(REMOVE, {"product_id": product_id})

    assert response.status_code == 400
    assert cart_of(client) == {str(product.pk): 3}


@pytest.mark.parametrize("url", [UPDATE, REMOVE])
def test_update_and_remove_are_post_only(client, url):
    assert client.get(url).status_code == 405


# --- Whatever is posted, never a 500 ------------------------------------------------------------

FIELD_NAMES = st.sampled_from(["product_id", "quantity", "next"]) | st.text(max_size=20)
FIELD_VALUES = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1000, max_size=5000),
    st.integers().map(str),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.sampled_from(
        ["\x00", "1\x00", "0", "-1", "99", "100", "1e3", " 7 ", "//evil.example", "/cart/\r\nX: y"]
    ),
)


@pytest.fixture
def any_post_client(client):
    """Return a client whose cart holds a product that may be changed, with others around it."""
    product = ProductFactory(stock=1000)
    ProductFactory(is_active=False)
    put_in_cart(client, {product.pk: 1})
    return client


@settings(
    max_examples=fuzz_examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    url=st.sampled_from([ADD, UPDATE, REMOVE]),
    fields=st.lists(st.tuples(FIELD_NAMES, FIELD_VALUES), max_size=6),
    known_product=st.booleans(),
)
def test_any_post_to_the_cart_gets_an_answer_never_a_500(any_post_client, url, fields, known_product):
    if known_product:
        # Half the time aim at real products, so the valid paths are exercised too.
        fields = [
            ("product_id", str(Product.objects.order_by("pk").values_list("pk", flat=True)[0])),
            *fields,
        ]

    response = any_post_client.post(url, urlencode(fields), content_type="application/x-www-form-urlencoded")

    assert response.status_code in {200, 302, 303, 400, 404}
    assert all(1 <= quantity <= 99 for quantity in cart_of(any_post_client).values())


# --- One change at a time: the session's row is locked while the cart changes ------------------


@pytest.mark.parametrize("n", [1, 30])
@pytest.mark.parametrize("url", [ADD, UPDATE, REMOVE])
def test_a_cart_change_runs_the_same_queries_whatever_the_cart_holds(
    client, django_assert_num_queries, url, n
):
    products = ProductFactory.create_batch(n, category=CategoryFactory())
    put_in_cart(client, {product.pk: 1 for product in products})
    data = {"product_id": products[0].pk, "quantity": 2}

    # the change's transaction (a savepoint here), the session's row locked and read, the product
    # checked (not for a removal), the session saved (3, in its own savepoint), the end of the
    # transaction, the primary's WAL position for read-your-writes
    with django_assert_num_queries(7 if url == REMOVE else 8):
        response = client.post(url, data)

    assert response.status_code == 303


def test_a_cart_change_renews_the_session_cookie(client, settings):
    product = ProductFactory()
    put_in_cart(client, {product.pk: 1})
    key = client.cookies[settings.SESSION_COOKIE_NAME].value

    response = client.post(ADD, {"product_id": product.pk, "quantity": 1})

    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie.value == key
    assert int(cookie["max-age"]) == settings.SESSION_COOKIE_AGE
    assert cookie["httponly"]
    assert cookie["samesite"] == settings.SESSION_COOKIE_SAMESITE


def test_a_refused_change_writes_nothing(client, settings):
    product = ProductFactory(stock=1)
    put_in_cart(client, {product.pk: 1})

    with CaptureQueriesContext(connection) as queries:
        response = client.post(ADD, {"product_id": product.pk, "quantity": 5})

    assert response.status_code == 400
    assert not [query["sql"] for query in queries if query["sql"].startswith(("UPDATE", "INSERT"))]
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert cart_of(client) == {str(product.pk): 1}


def test_the_first_add_of_a_visitor_without_a_session_starts_one(client, settings):
    product = ProductFactory()

    response = client.post(ADD, {"product_id": product.pk, "quantity": 1})

    assert response.cookies[settings.SESSION_COOKIE_NAME].value
    assert cart_of(client) == {str(product.pk): 1}
