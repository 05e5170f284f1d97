from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Order, OrderStatus
from accounts.services import orders_mark_shipped
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


def test_orders_mark_shipped_ships_pending_and_paid_orders_in_one_update(django_assert_num_queries):
    pending = OrderFactory(status=OrderStatus.PENDING)
    paid = OrderFactory(status=OrderStatus.PAID)
    before = timezone.now()

    with django_assert_num_queries(1):
        changed = orders_mark_shipped(order_ids=[pending.pk, paid.pk])

    assert changed == 2
    for order in (pending, paid):
        order.refresh_from_db()
        assert order.status == OrderStatus.SHIPPED
        assert order.shipped is not None
        assert order.shipped >= before - timedelta(seconds=5)


def test_orders_mark_shipped_leaves_cancelled_delivered_and_shipped_orders_alone():
    earlier = timezone.now() - timedelta(days=3)
    cancelled = OrderFactory(status=OrderStatus.CANCELLED)
    delivered = OrderFactory(status=OrderStatus.DELIVERED, shipped=earlier)
    shipped = OrderFactory(status=OrderStatus.SHIPPED, shipped=earlier)

    changed = orders_mark_shipped(order_ids=[cancelled.pk, delivered.pk, shipped.pk])

    assert changed == 0
    rows = dict(Order.objects.values_list("pk", "status"))
    assert rows == {
        cancelled.pk: OrderStatus.CANCELLED,
        delivered.pk: OrderStatus.DELIVERED,
        shipped.pk: OrderStatus.SHIPPED,
    }
    assert Order.objects.get(pk=cancelled.pk).shipped is None
    assert Order.objects.get(pk=delivered.pk).shipped == earlier
    assert Order.objects.get(pk=shipped.pk).shipped == earlier


def test_orders_mark_shipped_changes_only_the_orders_given():
    chosen = OrderFactory(status=OrderStatus.PAID)
    other = OrderFactory(status=OrderStatus.PAID)

    assert orders_mark_shipped(order_ids=[chosen.pk]) == 1

    other.refresh_from_db()
    assert other.status == OrderStatus.PAID
    assert other.shipped is None


def test_orders_mark_shipped_with_no_orders_changes_nothing():
    OrderFactory(status=OrderStatus.PAID)

    assert orders_mark_shipped(order_ids=[]) == 0
    assert not Order.objects.filter(status=OrderStatus.SHIPPED).exists()
