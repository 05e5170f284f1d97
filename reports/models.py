"""Reports: sold orders counted by day in three layers, a log of refreshes, and the admin's lists.

Every figure counts sold orders only: paid, shipped or delivered (a delivered order was paid and
shipped), never pending or cancelled ones, by the UTC day of the order's `created`. A day's
figures live in one of three layers (docs/ARCHITECTURE.md, "Reports"):

- closed days, before `ReportWindow.closed_until`: the `Closed*` tables below, written only by
  the refresh (reports/services.py): it adds the days that leave the recent layer and replaces the
  days whose orders changed since it last ran;
- recent days, from `closed_until` to `ReportWindow.recent_until`: materialized views
  (`reports_*_recent`, created by migrations), recomputed by every refresh, CONCURRENTLY;
- the open period, from `recent_until` on (today, or since the last refresh): counted live from
  the orders by the dashboard's queries.

The admin's report lists are plain SQL views over the three layers (unmanaged models at the end
of this module): the closed and recent days as of the last refresh, the open period live.
"""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q


class ReportWindow(models.Model):
    """Where the layers meet: one row, written by the refresh and read by every report query."""

    # Days before it are in the closed tables; NULL: none yet (the next refresh counts all history).
    closed_until = models.DateField(null=True)
    # Days before it (and from closed_until) are in the recent views; from it on, the dashboard
    # counts the orders live. NULL: never refreshed.
    recent_until = models.DateField(null=True)
    # Days before closed_until to count again at the next refresh: the orders placed or changed
    # since `changes_since` on closed days. Filled and emptied within one refresh.
    reopened = ArrayField(models.DateField(), default=list)
    # Changes from then on are the next refresh's to count (reports.services.CHANGES_FROM).
    changes_since = models.DateTimeField(null=True)
    # When the last refresh began (database clock): the closed and recent days are as of then.
    refreshed = models.DateTimeField(null=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="reportwindow_one_row")]

    def __str__(self):
        return f"closed before {self.closed_until}, recent before {self.recent_until}"


class ClosedSalesDay(models.Model):
    """Sold orders of one closed day: orders, items (units) and revenue."""

    day = models.DateField(primary_key=True)
    orders = models.BigIntegerField()
    items = models.BigIntegerField()
    revenue = models.DecimalField(max_digits=20, decimal_places=2)

    class Meta:
        db_table = "reports_closed_sales_day"

    def __str__(self):
        return f"Sales on {self.day}"


class ClosedProductDay(models.Model):
    """Units and revenue of one product on one closed day: the edges of a range of days."""

    pk = models.CompositePrimaryKey("day", "product_id")
    day = models.DateField()
    product_id = models.BigIntegerField()
    units = models.BigIntegerField()
    revenue = models.DecimalField(max_digits=20, decimal_places=2)

    class Meta:
        db_table = "reports_closed_product_day"

    def __str__(self):
        return f"Product #{self.product_id} on {self.day}"


class ClosedProductMonth(models.Model):
    """The closed days of one month summed per product: the whole months of a long range."""

    pk = models.CompositePrimaryKey("month", "product_id")
    month = models.DateField()
    product_id = models.BigIntegerField()
    units = models.BigIntegerField()
    revenue = models.DecimalField(max_digits=20, decimal_places=2)

    class Meta:
        db_table = "reports_closed_product_month"

    def __str__(self):
        return f"Product #{self.product_id} in {self.month:%Y-%m}"


class ClosedProductTotal(models.Model):
    """Every closed day summed per product: the admin's list of product sales."""

    product_id = models.BigIntegerField(primary_key=True)
    units = models.BigIntegerField()
    revenue = models.DecimalField(max_digits=20, decimal_places=2)

    class Meta:
        db_table = "reports_closed_product_total"

    def __str__(self):
        return f"Product #{self.product_id}, closed days"


class ClosedCustomerDay(models.Model):
    """Orders and spending of one customer on one closed day."""

    pk = models.CompositePrimaryKey("day", "customer_id")
    day = models.DateField()
    customer_id = models.BigIntegerField()
    orders = models.BigIntegerField()
    revenue = models.DecimalField(max_digits=20, decimal_places=2)

    class Meta:
        db_table = "reports_closed_customer_day"

    def __str__(self):
        return f"Customer #{self.customer_id} on {self.day}"


class ClosedCustomerMonth(models.Model):
    """The closed days of one month summed per customer."""

    pk = models.CompositePrimaryKey("month", "customer_id")
    month = models.DateField()
    customer_id = models.BigIntegerField()
    orders = models.BigIntegerField()
    revenue = models.DecimalField(max_digits=20, decimal_places=2)

    class Meta:
        db_table = "reports_closed_customer_month"

    def __str__(self):
        return f"Customer #{self.customer_id} in {self.month:%Y-%m}"


class ClosedCustomerTotal(models.Model):
    """Every closed day summed per customer: the admin's list of customer value."""

    customer_id = models.BigIntegerField(primary_key=True)
    orders = models.BigIntegerField()
    revenue = models.DecimalField(max_digits=20, decimal_places=2)

    class Meta:
        db_table = "reports_closed_customer_total"

    def __str__(self):
        return f"Customer #{self.customer_id}, closed days"


class ClosedCategoryDay(models.Model):
    """Units and revenue of one category (the product's when its day closed) on one closed day."""

    pk = models.CompositePrimaryKey("day", "category_id")
    day = models.DateField()
    category_id = models.BigIntegerField()
    units = models.BigIntegerField()
    revenue = models.DecimalField(max_digits=20, decimal_places=2)

    class Meta:
        db_table = "reports_closed_category_day"

    def __str__(self):
        return f"Category #{self.category_id} on {self.day}"


class RefreshLog(models.Model):
    """One step of a refresh: a view recomputed, or the days it closed, with its time and rows."""

    view = models.CharField(max_length=63)  # PostgreSQL's longest identifier
    started = models.DateTimeField()
    duration = models.DurationField()
    rows = models.BigIntegerField()
    concurrently = models.BooleanField()

    class Meta:
        ordering = ["-started"]
        indexes = [
            # "Data as of": the newest refresh of each view.
            models.Index(fields=["view", "-started"], name="refreshlog_view_newest"),
        ]

    def __str__(self):
        return f"{self.view} refreshed at {self.started:%Y-%m-%d %H:%M:%S}"


class Dashboard(RefreshLog):
    """The staff dashboard's entry in admin: its URL (/admin/reports/dashboard/) and its
    permission `reports.view_dashboard`. A proxy, so it has no table of its own."""

    class Meta:
        proxy = True
        default_permissions = ("view",)
        verbose_name = "dashboard"
        verbose_name_plural = "dashboard"


# The admin's report lists: plain views over the three layers.


class SalesDaily(models.Model):
    """Sold orders per day (UTC): orders, items (units), revenue, average order value."""

    day = models.DateField(primary_key=True)
    orders = models.BigIntegerField()
    items = models.BigIntegerField()
    revenue = models.DecimalField(max_digits=20, decimal_places=2)
    average_order_value = models.DecimalField(max_digits=20, decimal_places=2)

    class Meta:
        managed = False
        db_table = "reports_sales_daily"
        ordering = ["-day"]
        default_permissions = ("view",)
        verbose_name = "sales by day"
        verbose_name_plural = "sales by day"

    def __str__(self):
        return f"Sales on {self.day}"


class CustomersDaily(models.Model):
    """New customers per day (UTC) of their creation."""

    day = models.DateField(primary_key=True)
    new_customers = models.BigIntegerField()

    class Meta:
        managed = False
        db_table = "reports_customers_daily"
        ordering = ["-day"]
        default_permissions = ("view",)
        verbose_name = "new customers by day"
        verbose_name_plural = "new customers by day"

    def __str__(self):
        return f"New customers on {self.day}"


class ProductSales(models.Model):
    """Sales of each product ever sold: units, revenue, average unit price.

    The product's name, sku and category are today's, joined in by the view.
    """

    product_id = models.BigIntegerField(primary_key=True)
    name = models.CharField(max_length=200)
    sku = models.CharField(max_length=64)
    category_id = models.BigIntegerField()
    category_name = models.CharField(max_length=100)
    units = models.BigIntegerField()
    revenue = models.DecimalField(max_digits=20, decimal_places=2)
    average_unit_price = models.DecimalField(max_digits=20, decimal_places=2)

    class Meta:
        managed = False
        db_table = "reports_product_sales"
        ordering = ["-revenue", "product_id"]
        default_permissions = ("view",)
        verbose_name = "product sales"
        verbose_name_plural = "product sales"

    def __str__(self):
        return f"Sales of {self.name}"


class CustomerValue(models.Model):
    """What each customer with a sold order has bought: orders and total spent."""

    customer_id = models.BigIntegerField(primary_key=True)
    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254)
    orders = models.BigIntegerField()
    total_spent = models.DecimalField(max_digits=20, decimal_places=2)

    class Meta:
        managed = False
        db_table = "reports_customer_value"
        ordering = ["-total_spent", "customer_id"]
        default_permissions = ("view",)
        verbose_name = "customer value"
        verbose_name_plural = "customer value"

    def __str__(self):
        return f"Value of {self.name}"


class CategoryMonthly(models.Model):
    """Units and revenue per category and month (UTC)."""

    # "2025-03/7": admin needs a single-column primary key; the view's key is (month, category).
    id = models.CharField(max_length=40, primary_key=True)
    category_id = models.BigIntegerField()
    category_name = models.CharField(max_length=100)
    month = models.DateField()
    units = models.BigIntegerField()
    revenue = models.DecimalField(max_digits=20, decimal_places=2)

    class Meta:
        managed = False
        db_table = "reports_category_monthly"
        ordering = ["-month", "category_name"]
        default_permissions = ("view",)
        verbose_name = "category sales by month"
        verbose_name_plural = "category sales by month"

    def __str__(self):
        return f"{self.category_name} in {self.month:%Y-%m}"


# Every admin report list and its model.
REPORT_MODELS: dict[str, type[models.Model]] = {
    model._meta.db_table: model
    for model in (SalesDaily, CustomersDaily, ProductSales, CustomerValue, CategoryMonthly)
}


class CommandRun(models.Model):
    """One management command run through manage.py (shopsite.db.commands): when it started, how
    long it took, its queries and their time, its exit status. Never its arguments, which may
    hold secrets. Only the newest are kept (reports.command_runs)."""

    name = models.CharField(max_length=100)
    started = models.DateTimeField()
    duration = models.DurationField()
    queries = models.PositiveIntegerField()
    database_time = models.DurationField()
    exit_code = models.PositiveSmallIntegerField()  # 0: it succeeded

    class Meta:
        ordering = ["-started"]

    def __str__(self):
        return f"{self.name} at {self.started:%Y-%m-%d %H:%M:%S}"


class DatabaseHealth(CommandRun):
    """The database health page's entry in admin: its URL (/admin/reports/databasehealth/) and its
    permission `reports.view_databasehealth`. A proxy, so it has no table of its own."""

    class Meta:
        proxy = True
        default_permissions = ("view",)
        verbose_name = "database health"
        verbose_name_plural = "database health"
