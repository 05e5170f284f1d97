"""Checkout under contention: many customers at once, on real PostgreSQL row locks."""

from collections import Counter
from collections.abc import Mapping

import pytest

from accounts.models import Customer, Order, OrderItem
from accounts.services import order_place
from catalog.models import Product
from catalog.services import OutOfStock
from tests.factories import CategoryFactory, CustomerFactory, ProductFactory
from tests.integration.together import run_together

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# Waiting threads sit on row locks, not on the CPU: 50 is fine on two cores.
BUYERS = 50


def _buy_together(baskets: list[tuple[Customer, Mapping[int, int]]]) -> list[object]:
    """Place every basket in its own thread, all released at once; return each outcome in order.

    An outcome is the Order placed or the exception raised.
    """

    def placing(customer: Customer, lines: Mapping[int, int]):
        prices = dict(Product.objects.filter(pk__in=lines).values_list("pk", "price"))  # as shown
        return lambda: order_place(customer=customer, lines=lines, prices=prices)

    return run_together([placing(customer, lines) for customer, lines in baskets])


def _kinds(outcomes: list[object]) -> Counter:
    return Counter(type(outcome).__name__ for outcome in outcomes)


def test_fifty_buyers_of_the_last_ten_items_get_exactly_ten_orders():
    product = ProductFactory(stock=10)
    customers = CustomerFactory.create_batch(BUYERS)

    outcomes = _buy_together([(customer, {product.pk: 1}) for customer in customers])

    assert _kinds(outcomes) == Counter({"Order": 10, "OutOfStock": BUYERS - 10}), outcomes
    refused = [outcome for outcome in outcomes if isinstance(outcome, OutOfStock)]
    assert {(error.requested, error.available) for error in refused} == {(1, 0)}
    assert Product.objects.get().stock == 0
    assert Order.objects.count() == 10
    assert OrderItem.objects.count() == 10
    buyers = {outcome.customer_id for outcome in outcomes if isinstance(outcome, Order)}
    assert set(Order.objects.values_list("customer_id", flat=True)) == buyers
    assert Customer.objects.filter(last_purchase__isnull=False).count() == 10


def test_baskets_sharing_products_in_opposite_orders_never_deadlock():
    category = CategoryFactory()
    a, b = ProductFactory(category=category, stock=1000), ProductFactory(category=category, stock=1000)
    customers = CustomerFactory.create_batch(40)
    # The same two products, listed A then B by half the buyers and B then A by the others.
    baskets = [
        (customer, {a.pk: 1, b.pk: 1} if index % 2 else {b.pk: 1, a.pk: 1})
        for index, customer in enumerate(customers)
    ]

    outcomes = _buy_together(baskets)

    assert _kinds(outcomes) == Counter({"Order": 40}), [o for o in outcomes if not isinstance(o, Order)]
    assert dict(Product.objects.values_list("pk", "stock")) == {a.pk: 960, b.pk: 960}
    assert OrderItem.objects.count() == 80
