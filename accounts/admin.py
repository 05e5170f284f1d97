import re

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.contrib.auth.admin import UserAdmin
from django.db.models import Model
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.text import Truncator

from accounts.models import Customer, Order, OrderItem, User
from accounts.services import orders_mark_shipped
from catalog.models import Product

admin.site.register(User, UserAdmin)

# What staff type to find an order: its number, as shown in "Order #1234".
ORDER_NUMBER = re.compile(r"#?([0-9]{1,18})")


class LineProductRawIdWidget(ForeignKeyRawIdWidget):
    """A raw id box for an order line's product, labelled from the products its formset loaded."""

    loaded: dict[str, Product] | None = None  # set per form by OrderItemFormSet

    def label_and_url_for_value(self, value):
        product = (self.loaded or {}).get(str(value))
        if product is None:
            return super().label_and_url_for_value(value)
        url = reverse(f"{self.admin_site.name}:catalog_product_change", args=[product.pk])
        return Truncator(product).words(14), url


class LoadedChoiceField(forms.ModelChoiceField):
    """A model choice taken from objects its formset already loaded, by id, before asking the database."""

    loaded: dict[str, Model] | None = None  # set per form by OrderItemFormSet

    def to_python(self, value):
        obj = (self.loaded or {}).get(str(value))
        return obj if obj is not None else super().to_python(value)


class OrderItemFormSet(forms.BaseInlineFormSet):
    # Django checks each posted line's id and product, and labels each product, with one query per
    # line; this formset hands every form the lines and products it loaded once.
    @cached_property
    def lines(self) -> dict[str, OrderItem]:
        """Return the order's lines, by id, from the queryset the formset loads anyway."""
        return {str(item.pk): item for item in self.get_queryset()}

    @cached_property
    def line_products(self) -> dict[str, Product]:
        """Return the products of the lines shown (already loaded) and posted (one query), by id."""
        product_field = OrderItem._meta.get_field("product")
        products = {
            str(item.product_id): item.product
            for item in self.lines.values()
            if product_field.is_cached(item)
        }
        if self.is_bound:
            posted = {
                self.data.get(f"{self.add_prefix(i)}-product", "") for i in range(self.total_form_count())
            }
            missing = [int(pk) for pk in posted if pk.isascii() and pk.isdigit() and pk not in products]
            if missing:
                products |= {str(pk): product for pk, product in Product.objects.in_bulk(missing).items()}
        return products

    def add_fields(self, form, index):
        super().add_fields(form, index)
        pk_name = self.model._meta.pk.name
        line_id = form.fields[pk_name]
        form.fields[pk_name] = LoadedChoiceField(
            line_id.queryset, initial=line_id.initial, required=False, widget=line_id.widget
        )
        form.fields[pk_name].loaded = self.lines

    def _construct_form(self, i, **kwargs):
        form = super()._construct_form(i, **kwargs)
        product = form.fields.get("product")  # absent when staff may only view
        if isinstance(product, LoadedChoiceField):
            product.loaded = self.line_products
        if product is not None and isinstance(product.widget, LineProductRawIdWidget):
            product.widget.loaded = self.line_products
        return form


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    formset = OrderItemFormSet
    fields = ["product", "quantity", "unit_price", "line_subtotal"]
    readonly_fields = ["line_subtotal"]
    # A select of every product would be megabytes of HTML on each order page.
    raw_id_fields = ["product"]
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "product":
            kwargs["form_class"] = LoadedChoiceField
            kwargs["widget"] = LineProductRawIdWidget(
                db_field.remote_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="subtotal")
    def line_subtotal(self, item: OrderItem):
        if item.quantity is None or item.unit_price is None:  # a new line not yet filled in
            return "-"
        return item.quantity * item.unit_price


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "level", "is_active", "created", "last_purchase", "user"]
    list_select_related = ["user"]
    list_filter = ["level", "is_active"]
    search_fields = ["name", "email"]
    autocomplete_fields = ["user"]
    # Newest first, served by the primary key index; every column stays sortable by a click.
    ordering = ["-pk"]
    list_per_page = 50
    # Counting the whole table on every page is slow with many customers; the filtered count is enough.
    show_full_result_count = False


def _orders(count: int) -> str:
    return f"{count} order" if count == 1 else f"{count} orders"


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["id", "customer", "status", "total", "created", "shipped"]
    list_select_related = ["customer"]
    list_filter = ["status", "created"]
    date_hierarchy = "created"
    search_fields = ["customer__email"]
    search_help_text = "Search by order number (1234 or #1234) or part of the customer's email."
    autocomplete_fields = ["customer"]
    inlines = [OrderItemInline]
    actions = ["mark_shipped"]
    ordering = ["-created"]  # served by the index on created
    list_per_page = 50
    # Counting the whole table on every page is slow with many orders; the filtered count is enough.
    show_full_result_count = False

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
