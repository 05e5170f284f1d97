"""Writes to customers and orders: every change to their rows goes through a function here."""

from collections.abc import Iterable

from django.db.models.functions import Now

from accounts.models import Order, OrderStatus

# Only orders not yet on their way can be shipped; cancelled and delivered ones stay as they are.
SHIPPABLE_STATUSES = (OrderStatus.PENDING, OrderStatus.PAID)


def orders_mark_shipped(*, order_ids: Iterable[int]) -> int:
    """Mark the pending and paid orders among `order_ids` shipped now; return how many changed."""
    # One UPDATE is atomic on its own: no transaction or lock is needed around it.
    return Order.objects.filter(pk__in=order_ids, status__in=SHIPPABLE_STATUSES).update(
        status=OrderStatus.SHIPPED, shipped=Now()
    )
