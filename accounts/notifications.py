"""The emails the shop sends customers about their orders: the confirmation of an order placed and
the notice of an order shipped. Each is rendered from templates/emails/ as text and HTML, and sent
once the transaction that placed or shipped the order has committed: an order rolled back is
never announced.

A send that fails (the mail server down, refusing, or slower than EMAIL_TIMEOUT) is logged and
changes nothing: the order stands, and the customer sees it in their account. The password reset
email is Django's (accounts/urls.py), from the same folder.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import Customer, Order
from accounts.selectors import orders_for_notice

logger = logging.getLogger(__name__)

# Shipped orders read and sent at a time: a "select all" in admin may ship many.
SHIPPED_BATCH = 200


@dataclass(frozen=True)
class EmailedLine:
    """One line of an order as an email shows it."""

    name: str
    quantity: int
    unit_price: Decimal

    @property
    def subtotal(self) -> Decimal:
        return self.unit_price * self.quantity


def order_confirmation_on_commit(*, order: Order, customer: Customer, lines: list[EmailedLine]) -> None:
    """Email the customer the confirmation of `order` (its `lines`, totals, delivery and address)
    once the transaction commits. Everything it shows is taken now, so sending reads nothing."""
    context = {"order": order, "name": customer.name, "lines": lines, "order_url": order_url(order.pk)}
    message = _message("order_confirmation", to=customer.email, context=context)
    transaction.on_commit(lambda: _send([message], what=f"the confirmation of order #{order.pk}"))


def orders_shipped_on_commit(*, order_ids: list[int]) -> None:
    """Email each customer whose order is among `order_ids` that it shipped, once the transaction
    commits."""
    transaction.on_commit(lambda: orders_shipped_send(order_ids=order_ids))


def orders_shipped_send(*, order_ids: list[int]) -> None:
    """Email the shipped notice of each order of `order_ids`, read a batch at a time (two queries
    each: the orders with their customers, their items), over one connection to the mail server."""
    ids = iter(order_ids)
    while batch := list(islice(ids, SHIPPED_BATCH)):
        try:
            messages = [_shipped_message(order) for order in orders_for_notice(order_ids=batch)]
        except Exception:  # a page of the admin must not fail on an email: logged, the orders have shipped
            logger.exception("could not send the shipped notices of orders %s", _span(batch))
            continue
        _send(messages, what=f"the shipped notices of orders {_span(batch)}")


def order_url(pk: int) -> str:
    """Return the order page's address as a customer reaches it from an email (SHOP_URL)."""
    return settings.SHOP_URL.rstrip("/") + reverse("accounts:order", args=[pk])


def _shipped_message(order: Order) -> EmailMultiAlternatives:
    lines = [EmailedLine(item.product.name, item.quantity, item.unit_price) for item in order.items.all()]
    context = {"order": order, "name": order.customer.name, "lines": lines, "order_url": order_url(order.pk)}
    return _message("order_shipped", to=order.customer.email, context=context)


class _Rendered(EmailMultiAlternatives):
    """An email rendered when it is sent, not when it is made: a template that fails is a send that
    fails, logged with the others."""

    def __init__(self, template: str, context: dict, **kwargs):
        super().__init__(**kwargs)
        self.template, self.context = template, context

    def render(self) -> None:
        # A subject is one line: a newline in it would start the headers' body.
        self.subject = " ".join(render_to_string(f"emails/{self.template}_subject.txt", self.context).split())
        self.body = render_to_string(f"emails/{self.template}.txt", self.context)
        self.attach_alternative(render_to_string(f"emails/{self.template}.html", self.context), "text/html")


def _message(template: str, *, to: str, context: dict) -> _Rendered:
    return _Rendered(template, context, to=[to], from_email=settings.DEFAULT_FROM_EMAIL)


def _send(messages: list[_Rendered], *, what: str) -> None:
    """Render and send `messages` over one connection; log, never raise, if that fails."""
    if not messages:
        return
    try:
        for message in messages:
            message.render()
        with get_connection() as connection:
            connection.send_messages(messages)
    except Exception:  # the order has committed: a mail server's failure must not turn it into an error page
        logger.exception("could not send %s", what)


def _span(ids: list[int]) -> str:
    return f"#{ids[0]}" if len(ids) == 1 else f"#{ids[0]} to #{ids[-1]}"
