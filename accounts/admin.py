import re

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.urls import reverse
from django.utils.html import format_html

from accounts.forms import EmailAddressField
from accounts.models import Customer, DeliveryOption, Order, OrderItem, OrderStatus, User
from accounts.selectors import customer_email_taken, customer_name, customer_order_count
from accounts.services import orders_transition, statuses_before
from shopsite.admin import GrowingTableAdmin, moment_column, money_column
from shopsite.money import money

admin.site.register(User, UserAdmin)

# What staff type to find an order: its number, as shown in "Order #1234".
ORDER_NUMBER = re.compile(r"#?([0-9]{1,18})")
# A customer's id in a query string: digits, within PostgreSQL's bigint.
CUSTOMER_ID = re.compile(r"[0-9]{1,18}")


class OrderItemInline(admin.TabularInline):
    """The order's lines as the customer bought them: read-only, so the total always adds up."""

    model = OrderItem
    fields = ["product", "quantity", money_column("unit_price", description="unit price"), "line_subtotal"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="subtotal")
    def line_subtotal(self, item: OrderItem) -> str:
        return money(item.quantity * item.unit_price)


class CustomerAdminForm(forms.ModelForm):
    # Normalised as at sign-up: the fullwidth form of a customer's address is that customer's.
    email = EmailAddressField(max_length=Customer._meta.get_field("email").max_length)

    class Meta:
        model = Customer
        fields = ["user", "name", "email", "level", "is_active", "created", "last_purchase"]

    def clean_email(self) -> str:
        email = self.cleaned_data["email"]
        if customer_email_taken(email=email, other_than=self.instance.pk):
            raise forms.ValidationError("Another customer has this email.", code="email_taken")
        return email


class CustomerFilter(admin.SimpleListFilter):
    """The orders of one customer, which the customer's page links to. It offers no list of every
    customer (thousands): it shows only while it is chosen, with the customer's name."""

    title = "customer"
    parameter_name = "customer"

    def lookups(self, request, model_admin):
        if not self.value():
            return []  # not chosen: not shown (and admin applies no filter it does not show)
        value = self._customer_id()
        name = customer_name(pk=value) if value is not None else None  # one query, only when chosen
        return [(self.value(), name or "no such customer")]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        value = self._customer_id()
        return queryset.none() if value is None else queryset.filter(customer_id=value)

    def _customer_id(self) -> int | None:
        value = self.value() or ""
        return int(value) if CUSTOMER_ID.fullmatch(value) else None


@admin.register(Customer)
class CustomerAdmin(GrowingTableAdmin):
    form = CustomerAdminForm
    list_display = ["name", "email", "level", "is_active", "created", "last_purchase", "user"]
    list_select_related = ["user"]
    list_filter = ["level", "is_active"]
    search_fields = ["name", "email"]
    autocomplete_fields = ["user"]
    readonly_fields = ["orders_link"]
    # Newest first, served by the primary key index; every column stays sortable by a click.
    ordering = ["-pk"]
    list_per_page = 50

    @admin.display(description="orders")
    def orders_link(self, customer: Customer) -> str:
        """Link to the order list showing this customer's orders only (CustomerFilter)."""
        if customer.pk is None:
            return self.get_empty_value_display()
        url = f"{reverse('admin:accounts_order_changelist')}?{CustomerFilter.parameter_name}={customer.pk}"
        return format_html('<a href="{}">{}</a>', url, _orders(customer_order_count(customer=customer)))


def _orders(count: int, *, that: str = "") -> str:
    """Return "1 order" or "2 orders", with "that was"/"that were" after it when `that` is given."""
    orders = f"{count} order" if count == 1 else f"{count} orders"
    return f"{orders} that {'was' if count == 1 else 'were'} {that}" if that else orders


@admin.register(Order)
class OrderAdmin(GrowingTableAdmin):
    total = money_column("total")
    # Fits 1280 px beside the filters (tests/e2e/test_staff_admin.py): the customer by name (the
    # email is on their page), times in short.
    placed, shipped = moment_column("created", description="placed"), moment_column("shipped")
    list_display = ["id", "customer_name", "status", total, placed, shipped]
    list_select_related = ["customer"]
    list_filter = ["status", "created", CustomerFilter]
    date_hierarchy = "created"
    search_fields = ["customer__email"]
    search_help_text = "Search by order number (1234 or #1234) or part of the customer's email."
    autocomplete_fields = ["customer"]
    # The total is the sum of the lines and the delivery, read-only too; status and shipped time
    # change only through the actions, which follow the lifecycle; when it was placed, how and
    # where it goes, are history.
    readonly_fields = ["status", "shipped", "created", "delivery", "ship_to", total]
    # Listed, as the total read-only is a column (money), not the model field the form would edit.
    fields = ["customer", "status", "shipped", "created", "delivery", "ship_to", total]
    inlines = [OrderItemInline]
    actions = ["mark_paid", "mark_shipped", "mark_delivered", "cancel"]
    ordering = ["-created"]  # served by the index on created
    list_per_page = 50

    def has_add_permission(self, request):
        return False  # orders are placed by customers at checkout

    @admin.display(description="customer", ordering="customer__name")
    def customer_name(self, order: Order) -> str:
        return order.customer.name

    def has_delete_permission(self, request, obj=None):
        return False  # an order is the shop's record: cancel it, which returns its stock

    @admin.display(description="delivery")
    def delivery(self, order: Order) -> str:
        return f"{order.delivery_name}, {money(order.delivery_price)}" if order.delivery_name else "-"

    @admin.display(description="ship to")
    def ship_to(self, order: Order) -> str:
        return ", ".join(order.ship_to) or "-"

    def get_search_results(self, request, queryset, search_term):
        number = ORDER_NUMBER.fullmatch(search_term.strip())
        if number:
            # An order number goes through the primary key index, not a text scan of every id.
            return queryset.filter(pk=int(number[1])), False
        return super().get_search_results(request, queryset, search_term)

    @admin.action(description="Mark selected orders paid", permissions=["change"])
    def mark_paid(self, request, queryset):
        self._transition(request, queryset, to=OrderStatus.PAID, done="Marked {orders} paid")

    @admin.action(description="Mark selected orders shipped", permissions=["change"])
    def mark_shipped(self, request, queryset):
        self._transition(request, queryset, to=OrderStatus.SHIPPED, done="Marked {orders} shipped")

    @admin.action(description="Mark selected orders delivered", permissions=["change"])
    def mark_delivered(self, request, queryset):
        self._transition(request, queryset, to=OrderStatus.DELIVERED, done="Marked {orders} delivered")

    @admin.action(description="Cancel selected orders, their items back in stock", permissions=["change"])
    def cancel(self, request, queryset):
        done = "Cancelled {orders} and returned their items to stock"
        self._transition(request, queryset, to=OrderStatus.CANCELLED, done=done)

    def _transition(self, request, queryset, *, to: OrderStatus, done: str) -> None:
        """Move the selected orders that may go to `to`, and say how many moved and how many not."""
        selected = queryset.count()
        # A subquery, not a list of ids: "select all" over many orders stays one statement.
        moved = orders_transition(order_ids=queryset.values_list("pk", flat=True), to=to)
        skipped = _orders(selected - moved, that=f"not {' or '.join(statuses_before(to))}")
        self.message_user(
            request,
            f"{done.format(orders=_orders(moved))}; skipped {skipped}.",
            messages.SUCCESS if moved else messages.WARNING,
        )


@admin.register(DeliveryOption)
class DeliveryOptionAdmin(admin.ModelAdmin):
    """The ways the shop ships, offered at checkout by position then price. Changing a price or
    withdrawing an option changes no placed order (each keeps the name and price it was placed
    with); a customer whose checkout page showed the old one is shown the new figures first."""

    list_display = ["name", money_column("price"), "days_min", "days_max", "is_active", "position"]
    list_editable = ["is_active", "position"]
    ordering = ["position", "price", "pk"]
