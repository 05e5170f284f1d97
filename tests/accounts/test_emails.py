"""The emails customers get: the confirmation of an order placed and the notice of an order shipped,
sent once the transaction commits, as text and HTML from templates/emails/; a mail server that
fails is logged and changes nothing. (The password reset email: tests/accounts/test_password.py.)

Ordinary tests run inside a transaction that never commits, so each captures the on-commit
callbacks and runs them, as the commit would (pytest-django's django_capture_on_commit_callbacks).
"""

import logging
import socket
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import Order, OrderStatus
from accounts.services import order_place, orders_transition
from tests.accounts.helpers import checkout_form, put_in_cart
from tests.factories import (
    AddressFactory,
    CategoryFactory,
    CustomerFactory,
    OrderFactory,
    OrderItemFactory,
    ProductFactory,
)

pytestmark = pytest.mark.django_db

CHECKOUT = reverse("accounts:checkout")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mail_server_down(settings):
    """Send email over SMTP to a port where nothing listens: every send is refused."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", _closed_port(), 2


@pytest.fixture
def bought(customer_client, customer, delivery_options):
    """Put a teapot and two cups in the customer's cart; return them."""
    teapot = ProductFactory(name="Teapot", price=Decimal("30.00"))
    cups = ProductFactory(name="Cup & saucer", price=Decimal("7.50"))
    put_in_cart(customer_client, {teapot.pk: 1, cups.pk: 2})
    return teapot, cups


# --- The confirmation --------------------------------------------------------------------------------


def test_the_confirmation_is_sent_once_the_order_commits(
    customer_client, customer, bought, django_capture_on_commit_callbacks
):
    form = checkout_form(customer_client)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        customer_client.post(CHECKOUT, form)
        assert mail.outbox == []  # not before the commit
    for callback in callbacks:
        callback()

    order = Order.objects.get()
    (email,) = mail.outbox
    assert email.to == [customer.email]
    assert email.subject == f"Your order #{order.pk} is placed"
    assert email.from_email == "shopsite <shop@localhost>"
    for text in (
        f"Hello {customer.name},",
        "1 x Teapot at $30.00: $30.00",
        "2 x Cup & saucer at $7.50: $15.00",  # text, so not escaped
        "Delivery, Standard delivery: $4.95",
        "Total: $49.95",
        "LS1 4AP Leeds",
        f"http://127.0.0.1:8000/account/orders/{order.pk}/",
    ):
        assert text in email.body
    ((html, kind),) = email.alternatives
    assert kind == "text/html"
    assert "<td>Cup &amp; saucer</td>" in html
    assert "<strong>$49.95</strong>" in html
    assert f'href="http://127.0.0.1:8000/account/orders/{order.pk}/"' in html


def test_an_order_refused_sends_nothing(customer_client, bought, django_capture_on_commit_callbacks):
    teapot, _ = bought
    form = checkout_form(customer_client)
    teapot.__class__.objects.filter(pk=teapot.pk).update(price=Decimal("31.00"))

    with django_capture_on_commit_callbacks(execute=True):
        response = customer_client.post(CHECKOUT, form)

    assert response.status_code == 409
    assert mail.outbox == []


def test_the_same_page_sent_twice_sends_one_confirmation(
    customer_client, bought, django_capture_on_commit_callbacks
):
    form = checkout_form(customer_client)

    with django_capture_on_commit_callbacks(execute=True):
        customer_client.post(CHECKOUT, form)
        customer_client.post(CHECKOUT, form)

    assert len(mail.outbox) == 1


def test_a_mail_server_that_refuses_is_logged_and_the_order_stands(
    customer_client, bought, mail_server_down, django_capture_on_commit_callbacks, caplog
):
    form = checkout_form(customer_client)

    with (
        caplog.at_level(logging.ERROR, logger="accounts.notifications"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = customer_client.post(CHECKOUT, form)

    order = Order.objects.get()
    assert response.status_code == 303
    assert response["Location"] == reverse("accounts:order", args=[order.pk])
    assert [record.getMessage() for record in caplog.records] == [
        f"could not send the confirmation of order #{order.pk}"
    ]
    assert caplog.records[0].exc_info is not None  # with the mail server's error


def test_sending_the_confirmation_reads_nothing(
    customer, django_capture_on_commit_callbacks, django_assert_num_queries
):
    product = ProductFactory()
    with django_capture_on_commit_callbacks() as callbacks:
        order_place(customer=customer, lines={product.pk: 1}, prices={product.pk: product.price})

    with django_assert_num_queries(0):
        for callback in callbacks:
            callback()

    assert len(mail.outbox) == 1


# --- The shipped notice ------------------------------------------------------------------------------


def _paid_order(**kwargs) -> Order:
    order = OrderFactory(status=OrderStatus.PAID, delivery_name="Express delivery", **kwargs)
    OrderItemFactory(
        order=order, product=ProductFactory(name="Kettle"), quantity=1, unit_price=Decimal("25.00")
    )
    return order


def test_shipping_an_order_emails_its_customer_once_committed(django_capture_on_commit_callbacks):
    customer = CustomerFactory(name="Grace", email="grace@example.com")
    order = _paid_order(customer=customer, ship_name="Grace", ship_line1="1 Navy Yard", ship_city="Arlington")

    with django_capture_on_commit_callbacks(execute=True):
        orders_transition(order_ids=[order.pk], to=OrderStatus.SHIPPED)

    order.refresh_from_db()
    (email,) = mail.outbox
    assert email.to == ["grace@example.com"]
    assert email.subject == f"Your order #{order.pk} has shipped"
    assert f"shipped on {order.shipped:%-d %b %Y} by Express delivery" in email.body
    assert "1 x Kettle at $25.00: $25.00" in email.body
    assert "1 Navy Yard" in email.body
    assert "Kettle" in email.alternatives[0][0]


def test_only_the_orders_that_shipped_are_announced(django_capture_on_commit_callbacks):
    paid, pending = _paid_order(), OrderFactory(status=OrderStatus.PENDING)
    shipped_before = OrderFactory(status=OrderStatus.SHIPPED)

    with django_capture_on_commit_callbacks(execute=True):
        moved = orders_transition(order_ids=[paid.pk, pending.pk, shipped_before.pk], to=OrderStatus.SHIPPED)

    assert moved == 1
    assert [email.subject for email in mail.outbox] == [f"Your order #{paid.pk} has shipped"]


@pytest.mark.parametrize("to", [OrderStatus.PAID, OrderStatus.DELIVERED, OrderStatus.CANCELLED])
def test_other_moves_send_nothing(to, django_capture_on_commit_callbacks):
    orders = [OrderFactory(status=OrderStatus.PENDING), OrderFactory(status=OrderStatus.SHIPPED)]

    with django_capture_on_commit_callbacks(execute=True):
        orders_transition(order_ids=[order.pk for order in orders], to=to)

    assert mail.outbox == []


def test_the_admins_mark_shipped_action_emails_the_customers(
    admin_client, django_capture_on_commit_callbacks
):
    orders = [_paid_order(), _paid_order()]

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:accounts_order_changelist"),
            {"action": "mark_shipped", "_selected_action": [order.pk for order in orders], "index": 0},
        )

    assert sorted(email.subject for email in mail.outbox) == sorted(
        f"Your order #{order.pk} has shipped" for order in orders
    )


@pytest.mark.parametrize("n", [2, 20])
def test_the_shipped_notices_read_the_same_queries_whatever_the_number_of_orders(
    django_capture_on_commit_callbacks, django_assert_num_queries, n
):
    category = CategoryFactory()
    orders = [OrderFactory(status=OrderStatus.PAID) for _ in range(n)]
    for order in orders:
        OrderItemFactory.create_batch(2, order=order, product__category=category)
    with django_capture_on_commit_callbacks() as callbacks:
        orders_transition(order_ids=[order.pk for order in orders], to=OrderStatus.SHIPPED)

    # the orders with their customers, their items with their products
    with django_assert_num_queries(2):
        for callback in callbacks:
            callback()

    assert len(mail.outbox) == n


def test_a_mail_server_that_refuses_leaves_the_orders_shipped(
    mail_server_down, django_capture_on_commit_callbacks, caplog
):
    order = _paid_order()

    with (
        caplog.at_level(logging.ERROR, logger="accounts.notifications"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert orders_transition(order_ids=[order.pk], to=OrderStatus.SHIPPED) == 1

    assert Order.objects.get(pk=order.pk).status == OrderStatus.SHIPPED
    assert [record.getMessage() for record in caplog.records] == [
        f"could not send the shipped notices of orders #{order.pk}"
    ]


def test_an_order_placed_for_a_customer_with_an_address_email_shows_it(django_capture_on_commit_callbacks):
    customer = CustomerFactory()
    address = AddressFactory(customer=customer, line2="Flat 3")
    product = ProductFactory()

    with django_capture_on_commit_callbacks(execute=True):
        order_place(
            customer=customer, lines={product.pk: 1}, prices={product.pk: product.price}, ship_to=address
        )

    assert "Flat 3" in mail.outbox[0].body
    assert "Flat 3" in mail.outbox[0].alternatives[0][0]
