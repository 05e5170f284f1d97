"""The reports in Django admin: the dashboard, each report view read-only with a CSV export, and
the refresh log."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.views.main import ERROR_FLAG, PAGE_VAR
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from reports import views
from reports.models import (
    CategoryMonthly,
    CustomersDaily,
    CustomerValue,
    Dashboard,
    DatabaseHealth,
    ProductSales,
    RefreshLog,
    SalesDaily,
)
from reports.selectors import report_freshness
from reports.services import CLOSED_DAYS_LOG, view_names
from shopsite.admin import ChangelistExport, GrowingTableAdmin, money_column


class ReadOnlyAdmin(admin.ModelAdmin):
    """Admin for rows nobody edits: no add, change or delete, no actions, no detail pages."""

    actions = None
    list_display_links = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Dashboard)
class DashboardAdmin(ReadOnlyAdmin):
    """/admin/reports/dashboard/ is the dashboard, for staff with `reports.view_dashboard`."""

    def get_urls(self):
        # The changelist's name, so the admin index links the dashboard like any model.
        name = f"{self.opts.app_label}_{self.opts.model_name}_changelist"
        return [path("", self.admin_site.admin_view(self.dashboard_view), name=name)]

    def dashboard_view(self, request):
        return views.dashboard(request, model_admin=self)


class ReportAdmin(ChangelistExport, ReadOnlyAdmin):
    """A report view's changelist, with "data as of" its last refresh and a streamed CSV export of
    the rows it shows (its search, filters and ordering)."""

    change_list_template = "admin/reports/report_change_list.html"
    list_per_page = 50
    # Counts beside each filter choice cost a query per filter over the whole view.
    show_facets = admin.ShowFacets.NEVER

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_csv"
        csv_view = self.admin_site.admin_view(self.csv_view)
        # Before the defaults, whose "<path:object_id>/" would take "csv/".
        return [path("csv/", csv_view, name=name), *super().get_urls()]

    def csv_view(self, request):
        return views.report_csv(request, model_admin=self)

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        freshness = report_freshness(self.model)
        if not freshness.populated:
            # Reading an unpopulated view is an error in PostgreSQL: say what to do instead.
            context = {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": self.opts.verbose_name_plural.capitalize(),
                "view": self.opts.db_table,
            }
            return TemplateResponse(request, "admin/reports/not_refreshed.html", context)
        # The export follows the list: the same query string, every page of it.
        query = request.GET.copy()
        for ignored in (PAGE_VAR, ERROR_FLAG):
            query.pop(ignored, None)
        csv_url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_csv")
        extra_context = {
            **(extra_context or {}),
            "freshness": freshness,
            "csv_url": f"{csv_url}?{query.urlencode()}" if query else csv_url,
        }
        return super().changelist_view(request, extra_context)


@admin.register(SalesDaily)
class SalesDailyAdmin(ReportAdmin):
    list_display = ["day", "orders", "items", money_column("revenue"), money_column("average_order_value")]
    list_filter = [("day", admin.DateFieldListFilter)]
    date_hierarchy = "day"


@admin.register(CustomersDaily)
class CustomersDailyAdmin(ReportAdmin):
    list_display = ["day", "new_customers"]
    list_filter = [("day", admin.DateFieldListFilter)]
    date_hierarchy = "day"


@admin.register(ProductSales)
class ProductSalesAdmin(GrowingTableAdmin, ReportAdmin):
    list_display = [
        "product",
        "sku",
        "category_name",
        "units",
        money_column("revenue"),
        money_column("average_unit_price"),
    ]
    list_filter = ["category_name"]
    search_fields = ["name", "sku"]
    search_help_text = "Search by product name or sku."

    @admin.display(description="product", ordering="name")
    def product(self, row: ProductSales):
        # A link built from the id in the row: no query per row.
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:catalog_product_change", args=[row.product_id]), row.name
        )


class OrdersOverFilter(admin.SimpleListFilter):
    title = "orders"
    parameter_name = "orders_over"
    thresholds = (1, 5, 10, 50)

    def lookups(self, request, model_admin):
        return [(str(n), f"more than {n}") for n in self.thresholds]

    def queryset(self, request, queryset):
        if self.value() in {str(n) for n in self.thresholds}:
            return queryset.filter(orders__gt=int(self.value()))
        return queryset


@admin.register(CustomerValue)
class CustomerValueAdmin(GrowingTableAdmin, ReportAdmin):
    list_display = ["customer", "email", "orders", money_column("total_spent")]
    list_filter = [OrdersOverFilter]
    search_fields = ["name", "email"]
    search_help_text = "Search by customer name or email."

    @admin.display(description="customer", ordering="name")
    def customer(self, row: CustomerValue):
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:accounts_customer_change", args=[row.customer_id]), row.name
        )


@admin.register(CategoryMonthly)
class CategoryMonthlyAdmin(ReportAdmin):
    list_display = ["month_label", "category_name", "units", money_column("revenue")]
    list_filter = ["category_name"]
    search_fields = ["category_name"]
    date_hierarchy = "month"

    @admin.display(description="month", ordering="month")
    def month_label(self, row: CategoryMonthly):
        return f"{row.month:%Y-%m}"


class ViewFilter(admin.SimpleListFilter):
    """The steps of a refresh, listed from the code: a DISTINCT over the growing log would scan it."""

    title = "view"
    parameter_name = "view"

    def lookups(self, request, model_admin):
        return [(view, view.removeprefix("reports_")) for view in [*view_names(), CLOSED_DAYS_LOG]]

    def queryset(self, request, queryset):
        return queryset.filter(view=self.value()) if self.value() else queryset


@admin.register(RefreshLog)
class RefreshLogAdmin(GrowingTableAdmin, ReadOnlyAdmin):
    list_display = ["view", "started", "duration", "rows", "concurrently"]
    list_filter = [ViewFilter, "concurrently"]
    date_hierarchy = "started"
    list_per_page = 50


@admin.register(DatabaseHealth)
class DatabaseHealthAdmin(ReadOnlyAdmin):
    """/admin/reports/databasehealth/ is the database health page, for staff with
    `reports.view_databasehealth`."""

    def get_urls(self):
        # The changelist's name, so the admin index links the page like any model.
        name = f"{self.opts.app_label}_{self.opts.model_name}_changelist"
        return [path("", self.admin_site.admin_view(self.health_view), name=name)]

    def health_view(self, request):
        return views.database_health(request, model_admin=self)
