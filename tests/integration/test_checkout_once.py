"""One checkout page places at most one order, however many times and however fast it is sent:
a double click, a browser's retry, an impatient reload, on real PostgreSQL sessions."""

import uuid
from collections import Counter
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.models import Customer, Order, OrderItem
from accounts.services import order_place
from catalog.models import Product
from tests.accounts.helpers import checkout_form
from tests.factories import AddressFactory, CustomerFactory, ProductFactory, UserFactory
from tests.integration.together import run_together

# All databases: the checkout page may read from a replica.
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True, databases="__all__")]

SUBMISSIONS = 8
CHECKOUT = reverse("accounts:checkout")


def test_one_token_placed_at_once_from_eight_threads_makes_one_order_and_all_get_it():
    product = ProductFactory(price=Decimal("5.00"), stock=100)
    customer = CustomerFactory()
    token = uuid.uuid4()

    def place():
        return order_place(
            customer=customer, lines={product.pk: 3}, prices={product.pk: product.price}, checkout_token=token
        )

    outcomes = run_together([place] * SUBMISSIONS)

    kinds = Counter(type(outcome).__name__ for outcome in outcomes)
    assert kinds == Counter({"Order": SUBMISSIONS}), outcomes
    order = Order.objects.get()
    assert {outcome.pk for outcome in outcomes} == {order.pk}
    assert order.checkout_token == token
    assert OrderItem.objects.get().quantity == 3
    assert Product.objects.get().stock == 97


def test_one_token_for_the_last_items_makes_one_order_not_a_sold_out_error():
    product = ProductFactory(stock=2)
    customer = CustomerFactory()
    token = uuid.uuid4()

    def place():
        return order_place(
            customer=customer, lines={product.pk: 2}, prices={product.pk: product.price}, checkout_token=token
        )

    outcomes = run_together([place] * SUBMISSIONS)

    # The token is claimed before any stock is taken: the repeats find the order, not an empty shelf.
    assert {type(outcome).__name__ for outcome in outcomes} == {"Order"}, outcomes
    assert Order.objects.count() == 1
    assert Product.objects.get().stock == 0


def test_one_page_submitted_eight_times_at_once_places_one_order_and_answers_each_with_it(delivery_options):
    customer = CustomerFactory(user=UserFactory())
    AddressFactory(customer=customer)
    product = ProductFactory(stock=10)
    browser = Client()
    browser.force_login(customer.user)
    browser.post(reverse("accounts:cart_add"), {"product_id": product.pk, "quantity": 2})
    form = checkout_form(browser)
    key = browser.cookies[settings.SESSION_COOKIE_NAME].value

    def submit():
        tab = Client()
        tab.cookies[settings.SESSION_COOKIE_NAME] = key
        response = tab.post(CHECKOUT, form)
        return response.status_code, response["Location"]

    outcomes = run_together([submit] * SUBMISSIONS)

    order = Order.objects.get()
    assert set(outcomes) == {(303, reverse("accounts:order", args=[order.pk]))}, outcomes
    assert list(order.items.values_list("product_id", "quantity")) == [(product.pk, 2)]
    assert Product.objects.get().stock == 8
    assert Customer.objects.get().last_purchase == order.created
