"""The order lifecycle: pending -> paid -> shipped -> delivered, cancelled before shipping, and
nothing else; the database refuses what the services never write."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import SHIPPED_STATUSES, Order, OrderStatus
from accounts.services import ORDER_TRANSITIONS, order_place, orders_transition
from catalog.models import Product
from tests.factories import CategoryFactory, CustomerFactory, OrderFactory, OrderItemFactory, ProductFactory

pytestmark = pytest.mark.django_db

STATUSES = list(OrderStatus)


def _database_now():
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement_timestamp()")
        return cursor.fetchone()[0]


def _status(order: Order) -> str:
    return Order.objects.values_list("status", flat=True).get(pk=order.pk)


# --- Each move, from each status ----------------------------------------------------------------


@pytest.mark.parametrize("start", STATUSES)
@pytest.mark.parametrize("to", STATUSES)
def test_an_order_moves_only_along_the_lifecycle(start, to):
    order = OrderFactory(status=start)

    moved = orders_transition(order_ids=[order.pk], to=to)

    allowed = to in ORDER_TRANSITIONS[start]
    assert moved == (1 if allowed else 0)
    assert _status(order) == (to if allowed else start)


def test_the_lifecycle_is_pending_paid_shipped_delivered_and_cancelled_before_shipping():
    assert {(start, to) for start, ends in ORDER_TRANSITIONS.items() for to in ends} == {
        (OrderStatus.PENDING, OrderStatus.PAID),
        (OrderStatus.PAID, OrderStatus.SHIPPED),
        (OrderStatus.SHIPPED, OrderStatus.DELIVERED),
        (OrderStatus.PENDING, OrderStatus.CANCELLED),
        (OrderStatus.PAID, OrderStatus.CANCELLED),
    }


def test_shipping_sets_the_shipped_time_from_the_database_clock():
    order = OrderFactory(status=OrderStatus.PAID, created=timezone.now() - timedelta(days=2))
    before = _database_now()

    orders_transition(order_ids=[order.pk], to=OrderStatus.SHIPPED)

    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    assert before <= order.shipped <= _database_now()


def test_an_order_placed_by_a_clock_running_ahead_is_never_shipped_before_it_was_placed():
    ahead = timezone.now() + timedelta(minutes=5)  # an app server's clock ahead of the database's
    order = OrderFactory(status=OrderStatus.PAID, created=ahead)

    orders_transition(order_ids=[order.pk], to=OrderStatus.SHIPPED)

    order.refresh_from_db()
    assert order.shipped == ahead


def test_a_transition_changes_only_the_orders_given():
    chosen, other = OrderFactory(status=OrderStatus.PAID), OrderFactory(status=OrderStatus.PAID)

    assert orders_transition(order_ids=[chosen.pk], to=OrderStatus.SHIPPED) == 1

    other.refresh_from_db()
    assert (other.status, other.shipped) == (OrderStatus.PAID, None)


def test_a_transition_of_no_orders_changes_nothing():
    OrderFactory(status=OrderStatus.PAID)

    assert orders_transition(order_ids=[], to=OrderStatus.SHIPPED) == 0
    assert not Order.objects.filter(status=OrderStatus.SHIPPED).exists()


def test_a_transition_takes_a_queryset_of_ids():
    orders = OrderFactory.create_batch(3, status=OrderStatus.PENDING)
    OrderFactory(status=OrderStatus.PENDING, total=Decimal("1.00"))

    moved = orders_transition(
        order_ids=Order.objects.filter(pk__in=[o.pk for o in orders]).values("pk"), to=OrderStatus.PAID
    )

    assert moved == 3
    assert Order.objects.filter(status=OrderStatus.PENDING).count() == 1


@pytest.mark.parametrize("n", [1, 30])
def test_shipping_runs_one_update_whatever_the_number_of_orders(django_assert_num_queries, n):
    orders = OrderFactory.create_batch(n, status=OrderStatus.PAID)

    # savepoint, lock and list the orders that may ship (for their emails), one UPDATE, release
    with django_assert_num_queries(4):
        assert orders_transition(order_ids=[o.pk for o in orders], to=OrderStatus.SHIPPED) == n


# --- Cancelling: the stock comes back, once ----------------------------------------------------


def _placed_order(customer, lines: dict[Product, int]) -> Order:
    return order_place(
        customer=customer,
        lines={product.pk: quantity for product, quantity in lines.items()},
        prices={product.pk: product.price for product in lines},
    )


def _stock(*products: Product) -> list[int]:
    stock = dict(Product.objects.values_list("pk", "stock"))
    return [stock[product.pk] for product in products]


@pytest.mark.parametrize("start", [OrderStatus.PENDING, OrderStatus.PAID])
def test_cancelling_puts_the_items_back_in_stock(start):
    shirt, socks = ProductFactory(stock=5), ProductFactory(stock=8)
    order = _placed_order(CustomerFactory(), {shirt: 2, socks: 3})
    Order.objects.filter(pk=order.pk).update(status=start)
    assert _stock(shirt, socks) == [3, 5]

    assert orders_transition(order_ids=[order.pk], to=OrderStatus.CANCELLED) == 1

    assert _status(order) == OrderStatus.CANCELLED
    assert _stock(shirt, socks) == [5, 8]


def test_cancelling_twice_returns_the_stock_once():
    shirt = ProductFactory(stock=5)
    order = _placed_order(CustomerFactory(), {shirt: 2})

    orders_transition(order_ids=[order.pk], to=OrderStatus.CANCELLED)
    again = orders_transition(order_ids=[order.pk], to=OrderStatus.CANCELLED)

    assert again == 0
    assert _stock(shirt) == [5]


@pytest.mark.parametrize("start", [OrderStatus.SHIPPED, OrderStatus.DELIVERED])
def test_an_order_on_its_way_cannot_be_cancelled_and_keeps_its_stock_taken(start):
    shirt = ProductFactory(stock=5)
    order = _placed_order(CustomerFactory(), {shirt: 2})
    Order.objects.filter(pk=order.pk).update(status=start, shipped=timezone.now())

    assert orders_transition(order_ids=[order.pk], to=OrderStatus.CANCELLED) == 0

    assert _status(order) == start
    assert _stock(shirt) == [3]


def test_cancelling_orders_sharing_a_product_returns_the_sum_of_their_lines():
    lamp = ProductFactory(stock=10)
    orders = [_placed_order(CustomerFactory(), {lamp: quantity}) for quantity in (1, 2, 3)]

    orders_transition(order_ids=[order.pk for order in orders], to=OrderStatus.CANCELLED)

    assert _stock(lamp) == [10]


def test_a_product_no_longer_sold_gets_its_stock_back_too():
    lamp = ProductFactory(stock=4)
    order = _placed_order(CustomerFactory(), {lamp: 4})
    Product.objects.filter(pk=lamp.pk).update(is_active=False)

    orders_transition(order_ids=[order.pk], to=OrderStatus.CANCELLED)

    assert _stock(lamp) == [4]


def test_a_cancellation_that_fails_returns_no_stock():
    lamp = ProductFactory(stock=4)
    order = _placed_order(CustomerFactory(), {lamp: 1})

    def cancel_then_fail():
        # Cancelled and its stock returned, then the transaction fails: both are undone together.
        with transaction.atomic():
            orders_transition(order_ids=[order.pk], to=OrderStatus.CANCELLED)
            raise RuntimeError("after the cancellation")

    with pytest.raises(RuntimeError):
        cancel_then_fail()

    assert (_status(order), _stock(lamp)) == (OrderStatus.PAID, [3])


@pytest.mark.parametrize("n", [1, 30])
def test_cancelling_runs_the_same_queries_whatever_the_orders_and_lines(django_assert_num_queries, n):
    category = CategoryFactory()
    orders = [OrderFactory(status=OrderStatus.PAID) for _ in range(n)]
    for order in orders:
        OrderItemFactory(order=order, product=ProductFactory(category=category))

    # savepoint, lock the orders, cancel them, their lines summed by product, lock the products,
    # one UPDATE of their stock, release
    with django_assert_num_queries(7):
        assert orders_transition(order_ids=[o.pk for o in orders], to=OrderStatus.CANCELLED) == n


# --- Any sequence of moves keeps the rules (hypothesis) -------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=st.lists(st.sampled_from(STATUSES), max_size=8))
def test_any_sequence_of_moves_follows_the_lifecycle_and_returns_stock_at_most_once(db, moves):
    with transaction.atomic():
        lamp = ProductFactory(stock=10)
        order = _placed_order(CustomerFactory(), {lamp: 3})
        expected = OrderStatus.PAID
        for to in moves:
            allowed = to in ORDER_TRANSITIONS[expected]
            assert orders_transition(order_ids=[order.pk], to=to) == int(allowed)
            expected = to if allowed else expected
            order.refresh_from_db()
            assert order.status == expected
            assert (order.shipped is not None) == (expected in SHIPPED_STATUSES)
            assert order.shipped is None or order.shipped >= order.created
            assert _stock(lamp) == [10 if expected == OrderStatus.CANCELLED else 7]
        transaction.set_rollback(True)


# --- The database's own rules -----------------------------------------------------------------------


def _violates(constraint: str, write) -> None:
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        write()


def test_a_shipped_or_delivered_order_has_a_shipped_time():
    orders = Order.objects.filter(pk=OrderFactory(status=OrderStatus.PAID).pk)

    for status in SHIPPED_STATUSES:
        _violates("order_shipped_time_when_shipped", lambda status=status: orders.update(status=status))


def test_an_order_is_not_shipped_before_it_was_placed():
    order = OrderFactory(status=OrderStatus.SHIPPED)
    orders = Order.objects.filter(pk=order.pk)

    _violates("order_shipped_not_before_created", lambda: orders.update(shipped=order.created - timedelta(1)))


def test_a_checkout_token_places_one_order_only():
    order = OrderFactory()
    Order.objects.filter(pk=order.pk).update(checkout_token="6f0d8d6c-3c4f-4b8e-9a53-5e0f9c1b2a7d")

    _violates(
        "order_checkout_token_unique",
        lambda: OrderFactory(checkout_token="6f0d8d6c-3c4f-4b8e-9a53-5e0f9c1b2a7d"),
    )
