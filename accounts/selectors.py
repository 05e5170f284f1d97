"""Every read query of customers, carts and orders."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F, Prefetch, QuerySet, Value
from django.db.models.functions import Lower

from accounts.cart import Cart
from accounts.emails import email_normalise
from accounts.models import Address, Customer, DeliveryOption, Order, OrderItem, User
from catalog.models import Product
from catalog.selectors import PICTURE_COLUMNS

# The product columns the cart and the checkout summary show or check, its picture's too.
CART_PRODUCT_COLUMNS = ("id", "name", "slug", "price", "stock", "is_active", *PICTURE_COLUMNS)


@dataclass(frozen=True)
class CartLine:
    """One product of the cart, joined to its current row (None when the product was deleted)."""

    product_id: int
    quantity: int
    product: Product | None

    @property
    def name(self) -> str:
        """Return the product's name, or a stand-in when the product no longer exists."""
        return self.product.name if self.product is not None else f"Item #{self.product_id}"

    @property
    def is_available(self) -> bool:
        """Return whether the shop still sells the product (it may still be short of stock)."""
        return self.product is not None and self.product.is_active

    @property
    def problem(self) -> str:
        """Return why this line cannot be bought as it is, or "" when it can."""
        if not self.is_available:
            return "No longer available"
        if self.product.stock == 0:
            return "Sold out"
        if self.product.stock < self.quantity:
            return f"Only {self.product.stock} left"
        return ""

    @property
    def subtotal(self) -> Decimal:
        """Return the line's price at the product's current price (0 when it has no product)."""
        return self.product.price * self.quantity if self.product is not None else Decimal("0.00")


@dataclass(frozen=True)
class CartSummary:
    """The cart's lines with what the cart and checkout pages show about them."""

    lines: list[CartLine]

    @property
    def problems(self) -> list[CartLine]:
        """Return the lines that cannot be bought as they are."""
        return [line for line in self.lines if line.problem]

    @property
    def total(self) -> Decimal:
        """Return the total at current prices of the lines that can be bought."""
        return sum((line.subtotal for line in self.lines if not line.problem), Decimal("0.00"))

    @property
    def count(self) -> int:
        """Return the number of items in the cart."""
        return sum(line.quantity for line in self.lines)

    @property
    def can_check_out(self) -> bool:
        """Return whether the cart has something in it and nothing that blocks checkout."""
        return bool(self.lines) and not self.problems


def cart_lines(cart: Cart) -> list[CartLine]:
    """Return the cart's lines in the order they were added, with their products in one query."""
    quantities = cart.quantities()
    if not quantities:
        return []
    products = Product.objects.only(*CART_PRODUCT_COLUMNS).in_bulk(list(quantities))
    return [
        CartLine(product_id=product_id, quantity=quantity, product=products.get(product_id))
        for product_id, quantity in quantities.items()
    ]


def cart_summary(cart: Cart) -> CartSummary:
    """Return the cart's lines and totals at current prices, with their products in one query."""
    return CartSummary(lines=cart_lines(cart))


def product_for_cart(*, product_id: int) -> Product | None:
    """Return the product with the columns a cart change checks, or None when there is none."""
    return Product.objects.only("id", "name", "stock", "is_active").filter(pk=product_id).first()


def customer_email_taken(*, email: str, other_than: int | None = None) -> bool:
    """Return whether a customer (other than customer `other_than`) already has this email,
    whatever its case or Unicode form."""
    # Lower(email) is what customer_email_unique_ci indexes: this lookup uses that index.
    email = Lower(Value(email_normalise(email)))
    customers = Customer.objects.alias(email_lower=Lower("email")).filter(email_lower=email)
    return customers.exclude(pk=other_than).exists() if other_than else customers.exists()


def _order_items() -> Prefetch:
    """Return the prefetch of orders' items with their products' names and their subtotals."""
    items = (
        OrderItem.objects.select_related("product")
        .only("id", "order", "quantity", "unit_price", "product__id", "product__name", "product__slug")
        .annotate(subtotal=F("quantity") * F("unit_price"))
        .order_by("pk")
    )
    return Prefetch("items", queryset=items)


# The order columns the history lists; its page shows where the order goes too.
ORDER_LIST_COLUMNS = ("id", "status", "total", "created", "shipped", "delivery_name", "delivery_price")
ORDER_PAGE_COLUMNS = (
    *ORDER_LIST_COLUMNS,
    *(f"ship_{field}" for field in ("name", "line1", "line2", "city", "postcode", "country")),
)


def orders_for_user(*, user: User) -> QuerySet[Order]:
    """Return the orders of the user's customer, newest first, each with its items."""
    # Filtering through the join spares a query for the customer row; no customer, no orders.
    return (
        Order.objects.filter(customer__user=user)
        .only(*ORDER_LIST_COLUMNS)
        .order_by("-created", "-pk")
        .prefetch_related(_order_items())
    )


def order_for_user(*, user: User, pk: int) -> Order | None:
    """Return order `pk` with its items and address if it belongs to the user's customer, else None."""
    # The owner is part of the WHERE clause: another customer's order is simply not found.
    return orders_for_user(user=user).only(*ORDER_PAGE_COLUMNS).filter(pk=pk).first()


def order_status_for_user(*, user: User, pk: int) -> str | None:
    """Return the status of order `pk` if it belongs to the user's customer, else None."""
    return Order.objects.filter(customer__user=user, pk=pk).values_list("status", flat=True).first()


def orders_for_notice(*, order_ids: list[int]) -> list[Order]:
    """Return the orders with their customers and items, by id: what an email about them shows."""
    return list(
        Order.objects.filter(pk__in=order_ids)
        .select_related("customer")
        .only(*ORDER_PAGE_COLUMNS, "customer__name", "customer__email")
        .order_by("pk")
        .prefetch_related(_order_items())
    )


# --- The account: the customer's profile and address book -----------------------------------------


def customer_of_user(*, user: User) -> Customer | None:
    """Return the user's customer, or None for a user who has none yet (staff)."""
    return Customer.objects.filter(user=user).first()


def addresses_for_user(*, user: User) -> list[Address]:
    """Return the address book of the user's customer, the default first, then as they were added."""
    # Through the join, as orders_for_user: one query, and no customer is no address.
    return list(Address.objects.filter(customer__user=user).order_by("-is_default", "pk"))


def address_for_user(*, user: User, pk: int) -> Address | None:
    """Return address `pk` if it is in the user's customer's book, else None."""
    return Address.objects.filter(customer__user=user, pk=pk).first()


def delivery_options_offered() -> list[DeliveryOption]:
    """Return the delivery options a customer may choose at checkout, in the order shown."""
    return list(DeliveryOption.objects.filter(is_active=True).order_by("position", "price", "pk"))


def user_for_login(*, email: str) -> User | None:
    """Return the user of the customer whose email this is (any case or Unicode form), or None."""
    # Lower(email) is what customer_email_unique_ci indexes: one customer at most, found by that index.
    email = Lower(Value(email_normalise(email)))
    return User.objects.alias(customer_email=Lower("customer__email")).filter(customer_email=email).first()


def order_for_checkout(*, user: User, token: uuid.UUID) -> Order | None:
    """Return the user's order placed from the checkout page that issued `token`, if there is one."""
    # checkout_token is unique: one index lookup, and the owner in the WHERE clause as above.
    return Order.objects.filter(customer__user=user, checkout_token=token).only("id").first()


def customer_name(*, pk: int) -> str | None:
    """Return a customer's name, None if there is no such customer."""
    return Customer.objects.filter(pk=pk).values_list("name", flat=True).first()


def customer_order_count(*, customer: Customer) -> int:
    """Return how many orders a customer has placed (the order_customer_newest index counts them)."""
    return Order.objects.filter(customer=customer).count()
