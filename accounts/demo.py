"""Deterministic demo data for the whole shop, written in bulk: `bulk_create` and COPY.

The same `seed` gives the same categories, products, customers and orders. Only the passwords
of the demo logins are random, and they are never fixed in code. The catalog seeds and empties
its own tables (catalog.demo); this module does the customers, orders and items around them.
"""

from __future__ import annotations

import csv
import io
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import islice

from django.db import connection, transaction
from django.utils import timezone

from accounts.emails import email_normalise
from accounts.models import (
    SHIPPED_STATUSES,
    Address,
    Customer,
    DeliveryOption,
    MembershipLevel,
    Order,
    OrderStatus,
    User,
)
from accounts.signals import shop_data_reset
from catalog.demo import HISTORY_DAYS, catalog_is_empty, catalog_reset, catalog_seed
from shopsite.db.timeouts import long_transaction

BATCH_SIZE = 5_000
ORDER_CHUNK = 10_000  # orders built, written and freed at a time, with their items
COPY_ORDERS = "COPY accounts_order (id, customer_id, status, total, created, shipped) FROM STDIN (FORMAT csv)"
COPY_ORDER_ITEMS = (
    "COPY accounts_orderitem (order_id, product_id, quantity, unit_price) FROM STDIN (FORMAT csv)"
)

FIRST_NAMES = [
    "Ada",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kemi",
    "Liam",
    "Maya",
    "Noah",
    "Olga",
    "Pedro",
    "Quinn",
    "Rosa",
    "Sami",
    "Tara",
    "Uma",
    "Victor",
    "Wen",
    "Yara",
]
LAST_NAMES = [
    "Okafor",
    "Lindqvist",
    "Moreau",
    "Tanaka",
    "Schmidt",
    "Silva",
    "Novak",
    "Haddad",
    "Kowalski",
    "Murphy",
    "Rossi",
    "Nguyen",
    "Jensen",
    "Costa",
    "Ibrahim",
    "Walsh",
    "Dubois",
    "Kim",
]
LEVEL_WEIGHTS = [
    (MembershipLevel.BRONZE, 70),
    (MembershipLevel.SILVER, 20),
    (MembershipLevel.GOLD, 8),
    (MembershipLevel.PLATINUM, 2),
]
STATUS_WEIGHTS = [
    (OrderStatus.DELIVERED, 62),
    (OrderStatus.SHIPPED, 8),
    (OrderStatus.PAID, 12),
    (OrderStatus.PENDING, 6),
    (OrderStatus.CANCELLED, 12),
]


@dataclass
class DemoSizes:
    categories: int = 12
    products: int = 2_000
    customers: int = 5_000
    orders: int = 50_000
    logins: int = 3


@dataclass
class DemoResult:
    categories: int = 0
    products: int = 0
    customers: int = 0
    orders: int = 0
    items: int = 0
    logins: dict[str, str] = field(default_factory=dict)  # username -> generated password


class ShopNotEmpty(Exception):
    """Seeding would mix demo data with data already in the shop."""


def shop_is_empty() -> bool:
    return catalog_is_empty() and not (Customer.objects.exists() or Order.objects.exists())


def shop_reset() -> None:
    """Delete every customer, order and item and the demo's users, then the catalog."""
    with connection.cursor() as cursor:
        # TRUNCATE refuses tables with deferred foreign-key checks still pending in this transaction.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "TRUNCATE accounts_orderitem, accounts_order, accounts_address, accounts_customer"
            " RESTART IDENTITY"
        )
    User.objects.filter(username__startswith="demo-").delete()
    # Last: order items reference products, and the catalog refuses to delete one still in an order.
    catalog_reset()
    shop_data_reset.send(sender=shop_reset)


@transaction.atomic
def demo_seed(
    *,
    sizes: DemoSizes,
    seed: int = 1,
    reset: bool = False,
    progress: Callable[[str, int], None] | None = None,
) -> DemoResult:
    """Fill the shop with demo data in one transaction; refuse a non-empty shop unless `reset`."""
    long_transaction()  # a million orders take minutes, past the web's statement limit
    if reset:
        shop_reset()
    elif not shop_is_empty():
        raise ShopNotEmpty("the shop already has data: seed with --reset to replace it")
    rng = random.Random(seed)
    now = timezone.now().replace(microsecond=0)
    tick = progress or (lambda stage, n: None)
    result = DemoResult()

    # The catalog draws from `rng` first, then the customers and orders go on from where it stopped.
    products = catalog_seed(
        rng=rng, categories=sizes.categories, products=sizes.products, now=now, progress=tick
    )
    result.categories = sizes.categories
    result.products = len(products)

    customers = _customers(rng, sizes.customers, now)
    Customer.objects.bulk_create(customers, batch_size=BATCH_SIZE)
    result.customers = len(customers)
    tick("customers", len(customers))

    if customers and products:
        result.orders, result.items = _orders(rng, customers, products, sizes.orders, now, tick)
        _set_last_purchase()
    result.logins = _logins(customers[: sizes.logins])
    _addresses(rng, customers[: sizes.logins])
    delivery_options_seed()
    return result


# The demo shop's ways to ship: (name, price, days at least, at most).
DEMO_DELIVERY_OPTIONS = [
    ("Standard delivery", Decimal("4.95"), 3, 5),
    ("Express delivery", Decimal("12.50"), 1, 2),
]
STREETS = ["High Street", "Station Road", "Church Lane", "Mill Road", "Park Avenue", "Victoria Street"]
CITIES = [("Leeds", "LS1 4AP"), ("Bristol", "BS1 5TR"), ("York", "YO1 7HH"), ("Bath", "BA1 1LZ")]


def delivery_options_seed() -> None:
    """Give a shop without delivery options the demo's two (staff change them in admin)."""
    if not DeliveryOption.objects.exists():
        DeliveryOption.objects.bulk_create(
            DeliveryOption(name=name, price=price, days_min=low, days_max=high, position=n)
            for n, (name, price, low, high) in enumerate(DEMO_DELIVERY_OPTIONS)
        )


def _addresses(rng: random.Random, customers: list[Customer]) -> None:
    """Give the customers who can log in a default address, so that they can check out at once."""
    addresses = []
    for customer in customers:
        city, postcode = rng.choice(CITIES)
        line1 = f"{rng.randint(1, 200)} {rng.choice(STREETS)}"
        addresses.append(
            Address(
                customer=customer,
                name=customer.name,
                line1=line1,
                city=city,
                postcode=postcode,
                country="United Kingdom",
                is_default=True,
            )
        )
    Address.objects.bulk_create(addresses)


def _customers(rng: random.Random, count: int, now) -> list[Customer]:
    levels, weights = zip(*LEVEL_WEIGHTS, strict=True)
    customers = []
    for n in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        customers.append(
            Customer(
                name=f"{first} {last}",
                email=email_normalise(f"{first}.{last}.{n + 1}@example.com".lower()),
                level=rng.choices(levels, weights)[0],
                is_active=rng.random() > 0.02,
                created=now - timedelta(days=rng.randint(0, HISTORY_DAYS + 365)),
            )
        )
    return customers


def _orders(rng, customers, products, count, now, tick) -> tuple[int, int]:
    """Write `count` orders with 1-5 items each, a chunk at a time, and return (orders, items).

    The bulk of the demo data, so it goes through COPY rather than bulk_create (about 3x faster
    here, see bench/ingest.py): the chunk's order ids are reserved from the sequence first, so
    the items can point at their orders without reading anything back.
    """
    statuses, weights = zip(*STATUS_WEIGHTS, strict=True)
    history = HISTORY_DAYS * 86_400
    customer_ids = [customer.pk for customer in customers]
    total_items = 0
    numbers = iter(range(count))
    with connection.cursor() as cursor:
        while chunk := list(islice(numbers, ORDER_CHUNK)):
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence('accounts_order', 'id')) FROM generate_series(1, %s)",
                [len(chunk)],
            )
            order_ids = [order_id for (order_id,) in cursor.fetchall()]
            orders, items = io.StringIO(), io.StringIO()
            order_rows, item_rows = csv.writer(orders), csv.writer(items)
            for order_id in order_ids:
                created = now - timedelta(seconds=rng.randint(0, history))
                status, shipped = _lifecycle(rng, rng.choices(statuses, weights)[0], created, now)
                total = Decimal(0)
                for product in rng.sample(products, rng.randint(1, min(5, len(products)))):
                    quantity = rng.randint(1, 3)
                    total += product.price * quantity
                    item_rows.writerow((order_id, product.pk, quantity, product.price))
                    total_items += 1
                order_rows.writerow(
                    (
                        order_id,
                        rng.choice(customer_ids),
                        status.value,
                        total,
                        created.isoformat(),
                        shipped.isoformat() if shipped else "",
                    )
                )
            orders.seek(0)
            items.seek(0)
            cursor.copy_expert(COPY_ORDERS, orders)
            cursor.copy_expert(COPY_ORDER_ITEMS, items)
            tick("orders", len(chunk))
    return count, total_items


def _lifecycle(
    rng: random.Random, status: OrderStatus, created: datetime, now: datetime
) -> tuple[OrderStatus, datetime | None]:
    """Return the status and shipped time an order drawn with `status` has at `now`.

    As the shop's own lifecycle makes them: shipped 4 to 72 hours after it was placed and delivered
    1 to 6 days after that, so an order whose shipment is still to come is only paid, and one
    whose delivery is still to come is only shipped. Nothing is shipped in the future.
    """
    if status not in SHIPPED_STATUSES:
        return status, None
    shipped = created + timedelta(hours=rng.randint(4, 72))
    if shipped > now:
        return OrderStatus.PAID, None
    if status == OrderStatus.DELIVERED and shipped + timedelta(days=rng.randint(1, 6)) > now:
        return OrderStatus.SHIPPED, shipped
    return status, shipped


def _set_last_purchase() -> None:
    """Set each customer's last purchase from their orders, in one UPDATE."""
    with connection.cursor() as cursor:
        # Fresh statistics first: planned on the empty tables' estimates, this UPDATE can pick a
        # nested loop over every order for every customer (minutes instead of a second).
        cursor.execute("ANALYZE accounts_customer, accounts_order, accounts_orderitem")
        cursor.execute("""
            UPDATE accounts_customer c SET last_purchase = o.last_created
            FROM (SELECT customer_id, max(created) AS last_created FROM accounts_order
                  WHERE status <> 'cancelled' GROUP BY customer_id) o
            WHERE o.customer_id = c.id
        """)


def _logins(customers: list[Customer]) -> dict[str, str]:
    """Give a staff user and the first customers a login with a generated password."""
    logins = {}
    staff = User(username="demo-staff", email="staff@example.com", is_staff=True, is_superuser=True)
    users = [staff] + [
        User(
            username=f"demo-customer-{n}",
            email=customer.email,
            first_name=customer.name.split()[0],
            last_name=customer.name.split()[-1],
        )
        for n, customer in enumerate(customers, start=1)
    ]
    for user in users:
        password = secrets.token_urlsafe(12)
        user.set_password(password)
        logins[user.username] = password
    User.objects.bulk_create(users)
    for customer, user in zip(customers, users[1:], strict=True):
        customer.user = user
    Customer.objects.bulk_update(customers, ["user"])
    return logins
