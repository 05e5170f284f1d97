"""Prices and statuses that change while a checkout or a cancellation waits for a row lock."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import Order, OrderStatus
from accounts.services import PricesChanged, order_place, orders_transition
from catalog.models import Product
from tests.factories import CustomerFactory, ProductFactory
from tests.integration.faults import other_session, poll
from tests.integration.together import run_together

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

STAFF = 6


def _waiting_on_a_lock(session) -> int:
    """Return how many sessions wait for a lock on the test database."""
    with session.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def test_a_price_changed_while_the_checkout_waits_for_the_product_is_caught():
    mug = ProductFactory(price=Decimal("10.00"), stock=5)
    customer = CustomerFactory()
    outcome = []

    def checkout():
        try:
            shown = {mug.pk: Decimal("10.00")}
            outcome.append(order_place(customer=customer, lines={mug.pk: 1}, prices=shown))
        except Exception as error:  # checked below, whatever it is
            outcome.append(error)
        finally:
            connection.close()

    staff, watcher = other_session(), other_session()
    staff.autocommit = False
    try:
        with staff.cursor() as cursor:
            # Staff save a new price: their transaction holds the product's row until it commits.
            cursor.execute("UPDATE catalog_product SET price = 12 WHERE id = %s", [mug.pk])
        buyer = threading.Thread(target=checkout)
        buyer.start()
        poll(lambda: _waiting_on_a_lock(watcher), timeout=20, interval=0.01, what="the checkout waiting")
        staff.commit()  # the new price lands while the checkout waits for the row
        buyer.join(timeout=60)
    finally:
        staff.close()
        watcher.close()

    assert len(outcome) == 1
    assert isinstance(outcome[0], PricesChanged), outcome
    assert outcome[0].changes == {mug.pk: (Decimal("10.00"), Decimal("12.00"))}
    assert not Order.objects.exists()
    assert Product.objects.get().stock == 5


def test_staff_cancelling_one_order_at_once_return_its_stock_once():
    lamp = ProductFactory(stock=10)
    order = order_place(customer=CustomerFactory(), lines={lamp.pk: 4}, prices={lamp.pk: lamp.price})

    outcomes = run_together(
        [lambda: orders_transition(order_ids=[order.pk], to=OrderStatus.CANCELLED)] * STAFF
    )

    assert sorted(outcomes) == [0] * (STAFF - 1) + [1], outcomes
    assert Order.objects.get().status == OrderStatus.CANCELLED
    assert Product.objects.get().stock == 10


def test_cancelling_and_shipping_one_order_at_once_does_one_of_them():
    lamp = ProductFactory(stock=10)
    order = order_place(customer=CustomerFactory(), lines={lamp.pk: 4}, prices={lamp.pk: lamp.price})

    cancelled, shipped = run_together(
        [
            lambda: orders_transition(order_ids=[order.pk], to=OrderStatus.CANCELLED),
            lambda: orders_transition(order_ids=[order.pk], to=OrderStatus.SHIPPED),
        ]
    )

    assert sorted([cancelled, shipped]) == [0, 1]
    order.refresh_from_db()
    if cancelled:
        assert (order.status, order.shipped, Product.objects.get().stock) == (OrderStatus.CANCELLED, None, 10)
    else:
        assert order.status == OrderStatus.SHIPPED
        assert order.shipped is not None
        assert Product.objects.get().stock == 6
