import re

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin

from accounts.models import Customer, Order, OrderItem, User
from accounts.services import orders_mark_shipped
from shopsite.admin import GrowingTableAdmin

admin.site.register(User, UserAdmin)

# What staff type to find an order: its number, as shown in "Order #1234".
ORDER_NUMBER = re.compile(r"#?([0-9]{1,18})")


class OrderItemInline(admin.TabularInline):
    """The order's lines as the customer bought them: read-only, so the total always adds up."""

    model = OrderItem
    fields = ["product", "quantity", "unit_price", "line_subtotal"]
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
    def line_subtotal(self, item: OrderItem):
        return item.quantity * item.unit_price


@admin.register(Customer)
class CustomerAdmin(GrowingTableAdmin):
    list_display = ["name", "email", "level", "is_active", "created", "last_purchase", "user"]
    list_select_related = ["user"]
    list_filter = ["level", "is_active"]
    search_fields = ["name", "email"]
    autocomplete_fields = ["user"]
    # Newest first, served by the primary key index; every column stays sortable by a click.
    ordering = ["-pk"]
    list_per_page = 50


def _orders(count: int) -> str:
    return f"{count} order" if count == 1 else f"{count} orders"


@admin.register(Order)
class OrderAdmin(GrowingTableAdmin):
    list_display = ["id", "customer", "status", "total", "created", "shipped"]
    list_select_related = ["customer"]
    list_filter = ["status", "created"]
    date_hierarchy = "created"
    search_fields = ["customer__email"]
    search_help_text = "Search by order number (1234 or #1234) or part of the customer's email."
    autocomplete_fields = ["customer"]
    readonly_fields = ["total"]  # the sum of the lines, which are read-only too
    inlines = [OrderItemInline]
    actions = ["mark_shipped"]
    ordering = ["-created"]  # served by the index on created
    list_per_page = 50

    def has_add_permission(self, request):
        return False  # orders are placed by customers at checkout

    def get_search_results(self, request, queryset, search_term):
        number = ORDER_NUMBER.fullmatch(search_term.strip())
        if number:
            # An order number goes through the primary key index, not a text scan of every id.
            return queryset.filter(pk=int(number[1])), False
        return super().get_search_results(request, queryset, search_term)

    @admin.action(description="Mark selected orders shipped", permissions=["change"])
    def mark_shipped(self, request, queryset):
        selected = queryset.count()
        # A subquery, not a list of ids: "select all" over many orders stays one UPDATE.
        marked = orders_mark_shipped(order_ids=queryset.values_list("pk", flat=True))
        skipped = selected - marked
        self.message_user(
            request,
            f"Marked {_orders(marked)} shipped; skipped {_orders(skipped)} that were not pending or paid.",
            messages.SUCCESS if marked else messages.WARNING,
        )
