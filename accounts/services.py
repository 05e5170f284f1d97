"""Writes to customers and orders: every change to their rows goes through a function here."""

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Sum
from django.db.models.functions import Greatest, Now
from django.utils import timezone

from accounts.emails import email_normalise
from accounts.models import (
    ADDRESS_FIELDS,
    Address,
    Customer,
    DeliveryOption,
    Order,
    OrderItem,
    OrderStatus,
    User,
)
from accounts.notifications import EmailedLine, order_confirmation_on_commit, orders_shipped_on_commit
from accounts.selectors import customer_email_taken
from catalog.services import stock_return, stock_take
from shopsite.caching.versioned import namespace_touch_on_commit

# Moved on commit by every write of an order (placed, status changed): see orders_changed_on_commit.
ORDERS_NAMESPACE = "orders"

# Where an order may go from each status: pending -> paid -> shipped -> delivered, and cancelled
# before it ships. Anything else (a pending order shipped, a delivered one cancelled) is refused.
ORDER_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.PAID, OrderStatus.CANCELLED}),
    OrderStatus.PAID: frozenset({OrderStatus.SHIPPED, OrderStatus.CANCELLED}),
    OrderStatus.SHIPPED: frozenset({OrderStatus.DELIVERED}),
    OrderStatus.DELIVERED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}

# A second order of one checkout page (a double click, a retry) trips this; see order_place.
CHECKOUT_TOKEN_CONSTRAINT = "order_checkout_token_unique"

# The unique constraints a sign-up can hit when another one with the same name or email wins a race.
CUSTOMER_EMAIL_CONSTRAINT = "customer_email_unique_ci"
SIGNUP_CONSTRAINT_FIELDS = {"accounts_user_username_key": "username", CUSTOMER_EMAIL_CONSTRAINT: "email"}

# Addresses a customer may keep: bounds the checkout page's list and the confirmation it signs.
MAX_ADDRESSES = 20


class CustomerEmailUnusable(Exception):
    """A user's email cannot be a customer's: it is missing, or another customer has it."""


class PricesChanged(Exception):
    """A product costs something else now than the checkout page showed: no order was placed."""

    def __init__(self, changes: Mapping[int, tuple[Decimal, Decimal]]):
        super().__init__(f"prices changed (product id: (shown, now)): {dict(changes)}")
        self.changes = dict(changes)


class CustomerInactive(Exception):
    """The customer, or the customer's user, was deactivated: their account places no orders."""


class DeliveryChanged(Exception):
    """The delivery option chosen costs something else now than the checkout page showed, or is no
    longer offered: no order was placed."""


class AddressBookFull(Exception):
    """The customer already keeps MAX_ADDRESSES addresses: one must go before another is added."""


class CustomerEmailTaken(Exception):
    """Another customer has this email, in some case or Unicode form."""


@dataclass(frozen=True)
class DeliveryChosen:
    """The delivery option a customer chose at checkout, with its name and price as shown then."""

    option_id: int
    name: str
    price: Decimal


class SignupConflict(Exception):
    """Another account took the username or the email while this sign-up was being made."""

    def __init__(self, field: str):
        super().__init__(f"{field} already taken")
        self.field = field


def statuses_before(status: OrderStatus) -> list[OrderStatus]:
    """Return the statuses from which an order may move to `status`."""
    return [before for before, after in ORDER_TRANSITIONS.items() if status in after]


@transaction.atomic
def orders_transition(*, order_ids: Iterable[int], to: OrderStatus) -> int:
    """Move the orders among `order_ids` that may go to status `to`; return how many moved.

    The others are left as they are. Shipping sets the shipped time from the database's clock and,
    once committed, emails each customer whose order shipped; cancelling puts the orders' items
    back in stock, in the same transaction. `order_ids` may be a queryset of ids: admin's "select
    all" over many orders is a subquery, not a list.
    """
    allowed = Order.objects.filter(pk__in=order_ids, status__in=statuses_before(to))
    orders_changed_on_commit()
    if to == OrderStatus.CANCELLED:
        return _orders_cancel(allowed)
    if to == OrderStatus.SHIPPED:
        return _orders_ship(allowed)
    # One conditional UPDATE: an order another transaction moved meanwhile is checked again, and
    # skipped. `updated` tells the reports' refresh which days to count again.
    return allowed.update(status=to, updated=Now())


def _orders_ship(allowed) -> int:
    """Ship the orders of `allowed`, and email each customer once the transaction commits."""
    # Locked and listed first, as a cancellation does: the emails go to the orders this call moved.
    shipped = list(allowed.order_by("pk").select_for_update().values_list("pk", flat=True))
    if not shipped:
        return 0
    # The database's clock, and never before the order was placed by an app server's.
    Order.objects.filter(pk__in=shipped).update(
        status=OrderStatus.SHIPPED, shipped=Greatest(Now(), "created"), updated=Now()
    )
    orders_shipped_on_commit(order_ids=shipped)
    return len(shipped)


def _orders_cancel(allowed) -> int:
    """Cancel the orders of `allowed` and put their items back in stock; return how many."""
    # Locked, in id order, then checked again: of two staff cancelling one order at once, the second
    # finds it cancelled and returns nothing, so its stock comes back once.
    cancelled = list(allowed.order_by("pk").select_for_update().values_list("pk", flat=True))
    if not cancelled:
        return 0
    Order.objects.filter(pk__in=cancelled).update(status=OrderStatus.CANCELLED, updated=Now())
    returned = (
        OrderItem.objects.filter(order_id__in=cancelled)
        .values("product_id")
        .annotate(quantity=Sum("quantity"))
        .order_by()
    )
    stock_return(lines={row["product_id"]: row["quantity"] for row in returned})
    return len(cancelled)


def customer_signup(*, username: str, name: str, email: str, password: str) -> Customer:
    """Create a user and its customer together; raise SignupConflict if either is taken meanwhile."""
    # Stored normalised, so that the unique constraint on Lower(email) sees one mailbox as one.
    email = email_normalise(email)
    try:
        # Inner block: the failed INSERT rolls back here, so catching it leaves no broken transaction.
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=password)
            return Customer.objects.create(user=user, name=name, email=email)
    except IntegrityError as error:
        constraint = _constraint_of(error)
        if constraint not in SIGNUP_CONSTRAINT_FIELDS:
            raise
        raise SignupConflict(SIGNUP_CONSTRAINT_FIELDS[constraint]) from error


@transaction.atomic
def customer_for_user(*, user: User) -> Customer:
    """Return the user's customer, creating it from the user's name and email on first need."""
    customer = Customer.objects.filter(user=user).first()
    if customer is not None:
        return customer
    email = email_normalise(user.email)
    # Staff accounts may have no email, or share one with a customer: never link another's record.
    if "@" not in email or customer_email_taken(email=email):
        raise CustomerEmailUnusable(email)
    customer, _ = Customer.objects.get_or_create(
        user=user, defaults={"name": user.get_full_name() or user.get_username(), "email": email}
    )
    return customer


@transaction.atomic
def order_place(
    *,
    customer: Customer,
    lines: Mapping[int, int],
    prices: Mapping[int, Decimal],
    checkout_token: uuid.UUID | None = None,
    delivery: DeliveryChosen | None = None,
    ship_to: Address | None = None,
) -> Order:
    """Create a paid order of `lines` ({product id: quantity}) at the unit `prices` the customer
    was shown ({product id: price}), taking the stock, sent to `ship_to` (a copy of the address
    is kept) by `delivery` at the price shown, which the total includes. Once it commits, the
    customer is emailed its confirmation.

    With a `checkout_token` already used by one of the customer's orders (the same checkout page
    submitted twice, one after the other or at the same moment), return that order: never a
    second one. Raise CustomerInactive for a deactivated customer or user, the catalog's
    ProductUnavailable or OutOfStock for the first line that cannot be sold, PricesChanged when a
    product's price is not the one shown, and DeliveryChanged when the delivery's is not, or the
    option is withdrawn; each writes nothing. (The checkout always gives a delivery and an
    address; without them, the order ships nowhere and costs its items only.)
    """
    if not lines or any(quantity < 1 for quantity in lines.values()):
        raise ValueError(f"an order needs lines of positive quantities: {dict(lines)}")
    if set(prices) != set(lines):
        raise ValueError(f"one price for each line: lines {sorted(lines)}, prices {sorted(prices)}")
    if ship_to is not None and ship_to.customer_id != customer.pk:
        raise ValueError(f"address #{ship_to.pk} is not in customer #{customer.pk}'s book")
    now = timezone.now()
    delivery_price = delivery.price if delivery is not None else Decimal("0.00")
    total = sum((prices[pk] * quantity for pk, quantity in lines.items()), delivery_price)
    try:
        # The token first, before any stock is taken: a second submission waits here until the
        # first one commits, then fails on the unique constraint. A savepoint, so the transaction
        # goes on after the failure.
        with transaction.atomic():
            # Paid at once: there is no payment provider. With one, this would be PENDING until it confirms.
            order = Order.objects.create(
                customer=customer,
                status=OrderStatus.PAID,
                total=total,
                created=now,
                checkout_token=checkout_token,
                delivery_name=delivery.name if delivery is not None else "",
                delivery_price=delivery_price,
                **_shipping_copy(ship_to),
            )
    except IntegrityError as error:
        if _constraint_of(error) != CHECKOUT_TOKEN_CONSTRAINT:
            raise
        placed = Order.objects.filter(customer=customer, checkout_token=checkout_token).first()
        if placed is None:
            raise  # another customer's token: their order is not this customer's to see
        return placed

    # is_active is read from the customer's row as this UPDATE locks it: a deactivation that
    # commits meanwhile is seen, and one that comes later waits for this order.
    user_inactive = User.objects.filter(pk=OuterRef("user_id"), is_active=False)
    active = Customer.objects.filter(pk=customer.pk, is_active=True).exclude(Exists(user_inactive))
    if not active.update(last_purchase=now):
        raise CustomerInactive(f"customer #{customer.pk} is deactivated")

    # The catalog locks, checks and takes the stock in this transaction: all or nothing with the order.
    sold = stock_take(lines=lines)
    # Compared with the products locked: a price changed a moment ago is caught, none can change now.
    changed = {pk: (prices[pk], product.price) for pk, product in sold.items() if product.price != prices[pk]}
    if changed:
        raise PricesChanged(changed)
    if delivery is not None:
        _delivery_check(delivery)
    OrderItem.objects.bulk_create(
        OrderItem(order=order, product_id=pk, quantity=lines[pk], unit_price=prices[pk]) for pk in sold
    )
    customer.last_purchase = now
    orders_changed_on_commit()
    emailed = [EmailedLine(product.name, lines[pk], prices[pk]) for pk, product in sold.items()]
    order_confirmation_on_commit(order=order, customer=customer, lines=emailed)
    return order


def _shipping_copy(address: Address | None) -> dict[str, str]:
    """Return the order's ship_* fields: a copy of `address` as it is now (empty without one)."""
    return {f"ship_{field}": getattr(address, field) if address else "" for field in ADDRESS_FIELDS}


def _delivery_check(chosen: DeliveryChosen) -> None:
    """Raise DeliveryChanged unless the option chosen is still offered at the price shown."""
    # Read, not locked: a staff change committing after this read is for the next orders; a lock
    # FOR SHARE would make every checkout write a row lock on the same few rows.
    price = (
        DeliveryOption.objects.filter(pk=chosen.option_id, is_active=True)
        .values_list("price", flat=True)
        .first()
    )
    if price != chosen.price:
        raise DeliveryChanged(f"{chosen.name}: shown at {chosen.price}, now {price}")


# --- The account: the customer's profile and address book ------------------------------------


@transaction.atomic
def customer_profile_save(*, user: User, name: str, email: str) -> Customer:
    """Save the user's name and email on their customer (created for a user who has none yet), and
    the email on the user too: the two stay in step. Raise CustomerEmailTaken if another customer
    has the email, in some case or Unicode form, also when they took it a moment ago."""
    email = email_normalise(email)
    try:
        # Inner block: the failed UPDATE or INSERT rolls back here, as at sign-up.
        with transaction.atomic():
            customer = Customer.objects.select_for_update().filter(user=user).first()
            if customer is None:
                customer = Customer.objects.create(user=user, name=name, email=email)
            else:
                customer.name, customer.email = name, email
                customer.save(update_fields=["name", "email"])
            # An UPDATE of the one column: the user object in hand may be older than its row.
            User.objects.filter(pk=user.pk).update(email=email)
    except IntegrityError as error:
        if _constraint_of(error) != CUSTOMER_EMAIL_CONSTRAINT:
            raise
        raise CustomerEmailTaken(email) from error
    user.email = email
    return customer


def _address_book_locked(customer_id: int) -> None:
    """Lock the customer's row: changes to one address book, and its one default, take turns."""
    Customer.objects.select_for_update().filter(pk=customer_id).values_list("pk", flat=True).first()


@transaction.atomic
def address_add(*, customer: Customer, fields: Mapping[str, str], make_default: bool = False) -> Address:
    """Add an address to the customer's book: the default if it is the first or `make_default`.
    Raise AddressBookFull when the book already holds MAX_ADDRESSES."""
    _address_book_locked(customer.pk)
    book = Address.objects.filter(customer=customer)
    kept = book.count()
    if kept >= MAX_ADDRESSES:
        raise AddressBookFull(f"customer #{customer.pk} keeps {kept} addresses")
    is_default = make_default or kept == 0
    if is_default and kept:
        book.filter(is_default=True).update(is_default=False)
    values = {field: fields[field] for field in ADDRESS_FIELDS}
    return Address.objects.create(customer=customer, is_default=is_default, **values)


@transaction.atomic
def address_update(*, address: Address, fields: Mapping[str, str]) -> Address:
    """Change an address of the book; orders placed to it keep their copy."""
    for field in ADDRESS_FIELDS:
        setattr(address, field, fields[field])
    address.save(update_fields=ADDRESS_FIELDS)
    return address


@transaction.atomic
def address_set_default(*, address: Address) -> None:
    """Make the address its customer's default, in place of the one before."""
    _address_book_locked(address.customer_id)
    Address.objects.filter(customer_id=address.customer_id, is_default=True).exclude(pk=address.pk).update(
        is_default=False
    )
    Address.objects.filter(pk=address.pk).update(is_default=True)
    address.is_default = True


@transaction.atomic
def address_delete(*, address: Address) -> None:
    """Delete the address from the book; if it was the default, the oldest one left takes its place.
    Orders placed to it keep their copy."""
    _address_book_locked(address.customer_id)
    Address.objects.filter(pk=address.pk).delete()
    book = Address.objects.filter(customer_id=address.customer_id)
    if not book.filter(is_default=True).exists():
        oldest = book.order_by("pk").values_list("pk", flat=True)[:1]
        Address.objects.filter(pk__in=oldest).update(is_default=True)


def orders_changed_on_commit() -> None:
    """Once the transaction commits, give the "orders" cache namespace a new version: the reports'
    live figures (today's sales), cached a short while, are counted again at their next read."""
    namespace_touch_on_commit(ORDERS_NAMESPACE)


def _constraint_of(error: IntegrityError) -> str | None:
    """Return the name of the constraint a failed write broke, as PostgreSQL reports it."""
    return getattr(getattr(error.__cause__, "diag", None), "constraint_name", None)
