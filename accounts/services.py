"""Writes to customers and orders: every change to their rows goes through a function here."""

from collections.abc import Iterable, Mapping
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models.functions import Now
from django.utils import timezone

from accounts.models import Customer, Order, OrderItem, OrderStatus, User
from accounts.selectors import customer_email_taken
from catalog.services import stock_take

# Only orders not yet on their way can be shipped; cancelled and delivered ones stay as they are.
SHIPPABLE_STATUSES = (OrderStatus.PENDING, OrderStatus.PAID)

# The unique constraints a sign-up can hit when another one with the same name or email wins a race.
SIGNUP_CONSTRAINT_FIELDS = {"accounts_user_username_key": "username", "customer_email_unique_ci": "email"}


class CustomerEmailUnusable(Exception):
    """A user's email cannot be a customer's: it is missing, or another customer has it."""


class SignupConflict(Exception):
    """Another account took the username or the email while this sign-up was being made."""

    def __init__(self, field: str):
        super().__init__(f"{field} already taken")
        self.field = field


def orders_mark_shipped(*, order_ids: Iterable[int]) -> int:
    """Mark the pending and paid orders among `order_ids` shipped now; return how many changed."""
    # One UPDATE is atomic on its own: no transaction or lock is needed around it.
    return Order.objects.filter(pk__in=order_ids, status__in=SHIPPABLE_STATUSES).update(
        status=OrderStatus.SHIPPED, shipped=Now()
    )


def customer_signup(*, username: str, name: str, email: str, password: str) -> Customer:
    """Create a user and its customer together; raise SignupConflict if either is taken meanwhile."""
    try:
        # Inner block: the failed INSERT rolls back here, so catching it leaves no broken transaction.
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=password)
            return Customer.objects.create(user=user, name=name, email=email)
    except IntegrityError as error:
        constraint = getattr(getattr(error.__cause__, "diag", None), "constraint_name", None)
        if constraint not in SIGNUP_CONSTRAINT_FIELDS:
            raise
        raise SignupConflict(SIGNUP_CONSTRAINT_FIELDS[constraint]) from error


@transaction.atomic
def customer_for_user(*, user: User) -> Customer:
    """Return the user's customer, creating it from the user's name and email on first need."""
    customer = Customer.objects.filter(user=user).first()
    if customer is not None:
        return customer
    email = User.objects.normalize_email(user.email.strip())
    # Staff accounts may have no email, or share one with a customer: never link another's record.
    if "@" not in email or customer_email_taken(email=email):
        raise CustomerEmailUnusable(email)
    customer, _ = Customer.objects.get_or_create(
        user=user, defaults={"name": user.get_full_name() or user.get_username(), "email": email}
    )
    return customer


@transaction.atomic
def order_place(*, customer: Customer, lines: Mapping[int, int]) -> Order:
    """Create a paid order of `lines` ({product id: quantity}) at current prices, taking the stock.

    Raise the catalog's ProductUnavailable or OutOfStock for the first line that cannot be sold,
    writing nothing.
    """
    if not lines:
        raise ValueError("an order needs at least one line")
    # The catalog locks, checks and takes the stock in this transaction: all or nothing with the order.
    sold = stock_take(lines=lines)

    now = timezone.now()
    total = sum((product.price * lines[pk] for pk, product in sold.items()), Decimal("0.00"))
    # Paid at once: the shop has no payment provider. With one, this would be PENDING until it confirms.
    order = Order.objects.create(customer=customer, status=OrderStatus.PAID, total=total, created=now)
    OrderItem.objects.bulk_create(
        OrderItem(order=order, product_id=pk, quantity=lines[pk], unit_price=product.price)
        for pk, product in sold.items()
    )
    Customer.objects.filter(pk=customer.pk).update(last_purchase=now)
    customer.last_purchase = now
    return order
