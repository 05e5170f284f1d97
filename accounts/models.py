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
        ]
        indexes = [
            models.Index(fields=["customer", "-created"], name="order_customer_newest"),
            models.Index(fields=["updated"], name="order_updated"),
        ]

    def __str__(self):
        return f"Order #{self.pk}"


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
