"""One visitor's cart changed by several requests at once (tabs, quick clicks): no change is lost.

Real HTTP requests through every middleware (Django's test client), each in its own thread with
its own database connection, all carrying one session cookie.
"""

from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.sessions.backends.cached_db import SessionStore
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from accounts.cart import SESSION_KEY
from accounts.models import Order
from catalog.models import Product
from tests.accounts.helpers import checkout_form
from tests.factories import AddressFactory, CategoryFactory, CustomerFactory, ProductFactory, UserFactory
from tests.integration.together import run_together

# All databases: the checkout page may read from a replica.
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True, databases="__all__")]

ADD = reverse("accounts:cart_add")
UPDATE = reverse("accounts:cart_update")
REMOVE = reverse("accounts:cart_remove")
CHECKOUT = reverse("accounts:checkout")


def _visitor_session(cart: dict[int, int] | None = None) -> str:
    """Create a visitor's session, holding `cart`, as the database and Redis keep it; return its key."""
    session = SessionStore()
    if cart:
        session[SESSION_KEY] = {str(product_id): quantity for product_id, quantity in cart.items()}
    session.create()
    return session.session_key


def _tab(key: str) -> Client:
    """Return a client sending the visitor's session cookie, as one more tab of their browser."""
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = key
    return client


def _stored_cart(key: str) -> dict[str, int]:
    """Return the cart as the session's row holds it, after checking Redis holds the same."""
    in_database = Session.objects.get(session_key=key).get_decoded().get(SESSION_KEY, {})
    assert SessionStore(key).load().get(SESSION_KEY, {}) == in_database
    return in_database


def _post(key: str, url: str, data: dict) -> int:
    return _tab(key).post(url, data).status_code


def test_eight_adds_of_different_products_at_once_keep_eight_lines():
    products = ProductFactory.create_batch(8, category=CategoryFactory(), stock=10)
    key = _visitor_session()

    outcomes = run_together(
        [lambda p=product: _post(key, ADD, {"product_id": p.pk, "quantity": 1}) for product in products]
    )

    assert outcomes == [303] * 8
    assert _stored_cart(key) == {str(product.pk): 1 for product in products}


def test_eight_adds_of_one_product_at_once_add_up():
    product = ProductFactory(stock=50)
    key = _visitor_session()

    outcomes = run_together([lambda: _post(key, ADD, {"product_id": product.pk, "quantity": 2})] * 8)

    assert outcomes == [303] * 8
    assert _stored_cart(key) == {str(product.pk): 16}


def test_adds_updates_and_removes_at_once_all_count():
    category = CategoryFactory()
    kept, updated, removed = (ProductFactory.create_batch(3, category=category, stock=10) for _ in range(3))
    added = ProductFactory.create_batch(3, category=category, stock=10)
    key = _visitor_session({product.pk: 1 for product in [*kept, *updated, *removed]})

    changes = (
        [lambda p=p: _post(key, UPDATE, {"product_id": p.pk, "quantity": 5}) for p in updated]
        + [lambda p=p: _post(key, REMOVE, {"product_id": p.pk}) for p in removed]
        + [lambda p=p: _post(key, ADD, {"product_id": p.pk, "quantity": 2}) for p in added]
    )
    outcomes = run_together(changes)

    assert outcomes == [303] * 9
    expected = {**dict.fromkeys(kept, 1), **dict.fromkeys(updated, 5), **dict.fromkeys(added, 2)}
    assert _stored_cart(key) == {str(product.pk): quantity for product, quantity in expected.items()}


def test_an_add_during_a_checkout_is_either_in_the_order_or_left_in_the_cart(delivery_options):
    customer = CustomerFactory(user=UserFactory())
    AddressFactory(customer=customer)
    mug, pen = ProductFactory(name="Mug", price=Decimal("8.00")), ProductFactory(name="Pen")
    browser = Client()
    browser.force_login(customer.user)
    key = browser.cookies[settings.SESSION_COOKIE_NAME].value
    browser.post(ADD, {"product_id": mug.pk, "quantity": 1})
    form = checkout_form(browser)

    checkout, add = run_together(
        [
            lambda: _tab(key).post(CHECKOUT, form).status_code,
            lambda: _post(key, ADD, {"product_id": pen.pk, "quantity": 1}),
        ]
    )

    assert add == 303
    if checkout == 303:  # placed first: the pen, added after, waits in the cart
        assert list(Order.objects.get().items.values_list("product_id", flat=True)) == [mug.pk]
        assert _stored_cart(key) == {str(pen.pk): 1}
    else:  # the pen came first: the cart is not what the page showed, so nothing was placed
        assert checkout == 409
        assert not Order.objects.exists()
        assert _stored_cart(key) == {str(mug.pk): 1, str(pen.pk): 1}
    assert Product.objects.get(pk=pen.pk).stock == pen.stock
