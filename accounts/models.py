from decimal import Decimal

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower, Now
from django.utils import timezone

from catalog.models import Product


class User(AbstractUser):
    """Anyone who logs in: staff, and customers with an account. Custom from the first migration."""


class MembershipLevel(models.TextChoices):
    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"
    PLATINUM = "platinum"


class OrderStatus(models.TextChoices):
    PENDING = "pending"
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


# The statuses of an order on its way or arrived: those, and only those, have a shipped time.
SHIPPED_STATUSES = (OrderStatus.SHIPPED, OrderStatus.DELIVERED)


class Customer(models.Model):
    user = models.OneToOneField(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="customer"
    )
    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254)
    level = models.CharField(max_length=10, choices=MembershipLevel.choices, default=MembershipLevel.BRONZE)
    is_active = models.BooleanField(default=True)
    created = models.DateTimeField(default=timezone.now)
    last_purchase = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            # One customer per address, whatever its case.
            models.UniqueConstraint(Lower("email"), name="customer_email_unique_ci"),
            models.CheckConstraint(
                condition=Q(level__in=MembershipLevel.values), name="customer_level_valid"
            ),
            models.CheckConstraint(condition=Q(email__contains="@"), name="customer_email_has_at"),
            models.CheckConstraint(condition=~Q(name=""), name="customer_name_not_empty"),
        ]
        # New customers of the day so far, counted live by the reports' dashboard.
        indexes = [models.Index(fields=["created"], name="customer_created")]

    def __str__(self):
        return f"{self.name} <{self.email}>"


class DeliveryOption(models.Model):
    """A way the shop ships an order, at a price: staff edit them in admin, customers choose one at
    checkout. An order keeps a copy of the name and price it was placed with."""

    name = models.CharField(max_length=100)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    days_min = models.PositiveSmallIntegerField("estimated working days, at least")
    days_max = models.PositiveSmallIntegerField("estimated working days, at most")
    is_active = models.BooleanField("offered at checkout", default=True)
    # The checkout lists them by position, then price; the first is preselected.
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "price", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="deliveryoption_price_not_negative"),
            models.CheckConstraint(
                condition=Q(days_max__gte=F("days_min")), name="deliveryoption_days_in_order"
            ),
            models.CheckConstraint(condition=~Q(name=""), name="deliveryoption_name_not_empty"),
        ]

    def __str__(self):
        return self.name

    @property
    def estimate(self) -> str:
        """Return the estimated time on the way, in words: "3-5 working days", "1 working day"."""
        if self.days_min == self.days_max:
            return f"{self.days_max} working day{'' if self.days_max == 1 else 's'}"
        return f"{self.days_min}\u2013{self.days_max} working days"


# The fields of a postal address, in the order an envelope shows them (Address, and Order's copy).
ADDRESS_FIELDS = ("name", "line1", "line2", "city", "postcode", "country")


class Address(models.Model):
    """An address of a customer's address book: where orders can go."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="addresses")
    name = models.CharField("full name", max_length=200)
    line1 = models.CharField("address", max_length=200)
    line2 = models.CharField("apartment, suite, etc.", max_length=200, blank=True)
    city = models.CharField("town or city", max_length=100)
    postcode = models.CharField("postal code", max_length=20)
    country = models.CharField(max_length=100)
    is_default = models.BooleanField("default address", default=False)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-is_default", "pk"]
        verbose_name_plural = "addresses"
        constraints = [
            models.UniqueConstraint(
                fields=["customer"], condition=Q(is_default=True), name="address_one_default_per_customer"
            ),
            *(
                models.CheckConstraint(condition=~Q(**{field: ""}), name=f"address_{field}_not_empty")
                for field in ("name", "line1", "city", "postcode", "country")
            ),
        ]

    def __str__(self):
        return ", ".join(self.lines)

    @property
    def lines(self) -> list[str]:
        """Return the address as the lines of an envelope, the empty ones left out."""
        return _address_lines(self.name, self.line1, self.line2, f"{self.postcode} {self.city}", self.country)


def _address_lines(*lines: str) -> list[str]:
    return [line.strip() for line in lines if line.strip()]


class Order(models.Model):
    # Indexed by order_customer_newest, which leads with customer.
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders", db_index=False)
    status = models.CharField(max_length=10, choices=OrderStatus.choices, default=OrderStatus.PENDING)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    created = models.DateTimeField(default=timezone.now, db_index=True)  # time-range reports
    # When it was placed or its status last changed, by the database's clock: what the reports'
    # refresh asks to find the days it must count again (reports/services.py).
    updated = models.DateTimeField(db_default=Now(), editable=False)
    shipped = models.DateTimeField(null=True, blank=True)
    # Issued with the checkout page: a second submission of that page finds this order, never makes one.
    checkout_token = models.UUIDField(null=True, blank=True, editable=False)
    # Where it goes, copied from the address book when it was placed: editing or deleting that address
    # later changes no order. Empty on orders placed before checkout asked for an address. (Database
    # defaults too: the demo seed COPYs orders without them.)
    ship_name = models.CharField(max_length=200, blank=True, default="", db_default="")
    ship_line1 = models.CharField(max_length=200, blank=True, default="", db_default="")
    ship_line2 = models.CharField(max_length=200, blank=True, default="", db_default="")
    ship_city = models.CharField(max_length=100, blank=True, default="", db_default="")
    ship_postcode = models.CharField(max_length=20, blank=True, default="", db_default="")
    ship_country = models.CharField(max_length=100, blank=True, default="", db_default="")
    # How it goes, as chosen at checkout: the option's name and price then, part of the total.
    delivery_name = models.CharField(max_length=100, blank=True, default="", db_default="")
    delivery_price = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("0.00"), db_default=Decimal("0.00")
    )

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=OrderStatus.values), name="order_status_valid"),
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_not_negative"),
            models.CheckConstraint(
                condition=Q(shipped__isnull=True) | Q(status__in=SHIPPED_STATUSES),
                name="order_shipped_only_when_shipped",
            ),
            models.CheckConstraint(
                condition=Q(shipped__isnull=False) | ~Q(status__in=SHIPPED_STATUSES),
                name="order_shipped_time_when_shipped",
            ),
            # Not also `shipped <= now()`: see docs/ARCHITECTURE.md, "The order lifecycle".
            models.CheckConstraint(
                condition=Q(shipped__isnull=True) | Q(shipped__gte=F("created")),
                name="order_shipped_not_before_created",
            ),
            models.UniqueConstraint(fields=["checkout_token"], name="order_checkout_token_unique"),
            models.CheckConstraint(
                condition=Q(delivery_price__gte=0), name="order_delivery_price_not_negative"
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-created"], name="order_customer_newest"),
            models.Index(fields=["updated"], name="order_updated"),
        ]

    def __str__(self):
        return f"Order #{self.pk}"

    @property
    def ship_to(self) -> list[str]:
        """Return the address it ships to as the lines of an envelope (none before addresses)."""
        city = f"{self.ship_postcode} {self.ship_city}"
        return _address_lines(self.ship_name, self.ship_line1, self.ship_line2, city, self.ship_country)


class OrderItem(models.Model):
    # Indexed by orderitem_one_line_per_product, which leads with order.
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items", db_index=False)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="order_items")
    quantity = models.IntegerField()
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)  # the price when bought

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="orderitem_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="orderitem_unit_price_not_negative"),
            models.UniqueConstraint(fields=["order", "product"], name="orderitem_one_line_per_product"),
        ]

    def __str__(self):
        # Its product's name: read with the line (select_related), as admin's inline of lines does.
        return f"{self.quantity} x {self.product.name}"
