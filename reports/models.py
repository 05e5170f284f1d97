"""Reports: a log of refreshes, and unmanaged models over the materialized views.

The views themselves are created by migrations (`RunSQL`, SQL written out in the migration) and
hold the shop's aggregates; every one counts only sold orders: paid, shipped or delivered (a
delivered order was paid and shipped), never pending or cancelled ones.
"""

from django.db import models


class RefreshLog(models.Model):
    """One refresh of one materialized view: when it started, how long it took, the rows it holds."""

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
    """Sales of each product ever sold: units, revenue, average unit price, last sale.

    The product's name, sku and category are copied in, so reading the report joins nothing.
    """

    product_id = models.BigIntegerField(primary_key=True)
    name = models.CharField(max_length=200)
    sku = models.CharField(max_length=64)
    category_id = models.BigIntegerField()
    category_name = models.CharField(max_length=100)
    units = models.BigIntegerField()
    revenue = models.DecimalField(max_digits=20, decimal_places=2)
    average_unit_price = models.DecimalField(max_digits=20, decimal_places=2)
    last_sold = models.DateTimeField()

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
    """What each customer with a sold order has bought: orders, total spent, first and last order."""

    customer_id = models.BigIntegerField(primary_key=True)
    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254)
    orders = models.BigIntegerField()
    total_spent = models.DecimalField(max_digits=20, decimal_places=2)
    first_order = models.DateTimeField()
    last_order = models.DateTimeField()

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
    """Units and revenue per category (the product's category today) and month (UTC)."""

    # "2025-03/7": admin needs a single-column primary key; the view's unique key is (month, category).
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


# Every report view and its model, each after the views it reads (none reads another yet).
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
