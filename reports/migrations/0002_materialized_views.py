"""The report materialized views, written out here so this migration never changes.

Every view counts sold orders only: paid, shipped or delivered. Each is created WITH NO DATA, so
migrating stays quick at any size: `manage.py refresh_reports` fills it (plainly the first time,
concurrently afterwards). Each has a UNIQUE index on plain columns that are never NULL (group
keys taken from NOT NULL columns), which REFRESH ... CONCURRENTLY requires. A changed definition
is a new migration.
"""

from django.db import migrations

SALES_DAILY = """
CREATE MATERIALIZED VIEW reports_sales_daily AS
SELECT (o.created AT TIME ZONE 'UTC')::date AS day,
       count(*) AS orders,
       COALESCE(sum(i.units), 0)::bigint AS items,
       sum(o.total) AS revenue,
       round(avg(o.total), 2) AS average_order_value
FROM accounts_order o
LEFT JOIN (
    SELECT order_id, sum(quantity) AS units FROM accounts_orderitem GROUP BY order_id
) i ON i.order_id = o.id
WHERE o.status IN ('paid', 'shipped', 'delivered')
GROUP BY 1
WITH NO DATA
"""

CUSTOMERS_DAILY = """
CREATE MATERIALIZED VIEW reports_customers_daily AS
SELECT (created AT TIME ZONE 'UTC')::date AS day,
       count(*) AS new_customers
FROM accounts_customer
GROUP BY 1
WITH NO DATA
"""

# Aggregated by product id first, then joined to the product: one join per product, not per line.
PRODUCT_SALES = """
CREATE MATERIALIZED VIEW reports_product_sales AS
SELECT p.id AS product_id,
       p.name,
       p.sku,
       p.category_id,
       c.name AS category_name,
       s.units,
       s.revenue,
       round(s.revenue / s.units, 2) AS average_unit_price,
       s.last_sold
FROM (
    SELECT i.product_id,
           sum(i.quantity)::bigint AS units,
           sum(i.quantity * i.unit_price) AS revenue,
           max(o.created) AS last_sold
    FROM accounts_orderitem i
    JOIN accounts_order o ON o.id = i.order_id
    WHERE o.status IN ('paid', 'shipped', 'delivered')
    GROUP BY i.product_id
) s
JOIN catalog_product p ON p.id = s.product_id
JOIN catalog_category c ON c.id = p.category_id
WITH NO DATA
"""

CUSTOMER_VALUE = """
CREATE MATERIALIZED VIEW reports_customer_value AS
SELECT c.id AS customer_id,
       c.name,
       c.email,
       count(*) AS orders,
       sum(o.total) AS total_spent,
       min(o.created) AS first_order,
       max(o.created) AS last_order
FROM accounts_order o
JOIN accounts_customer c ON c.id = o.customer_id
WHERE o.status IN ('paid', 'shipped', 'delivered')
GROUP BY c.id
WITH NO DATA
"""

CATEGORY_MONTHLY = """
CREATE MATERIALIZED VIEW reports_category_monthly AS
SELECT to_char(month, 'YYYY-MM') || '/' || category_id AS id,
       category_id,
       category_name,
       month,
       units,
       revenue
FROM (
    SELECT c.id AS category_id,
           c.name AS category_name,
           date_trunc('month', o.created AT TIME ZONE 'UTC')::date AS month,
           sum(i.quantity)::bigint AS units,
           sum(i.quantity * i.unit_price) AS revenue
    FROM accounts_orderitem i
    JOIN accounts_order o ON o.id = i.order_id
    JOIN catalog_product p ON p.id = i.product_id
    JOIN catalog_category c ON c.id = p.category_id
    WHERE o.status IN ('paid', 'shipped', 'delivered')
    GROUP BY c.id, 3
) monthly
WITH NO DATA
"""


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_initial"),
        ("accounts", "0001_initial"),
        ("catalog", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(
            sql=[SALES_DAILY, "CREATE UNIQUE INDEX reports_sales_daily_day ON reports_sales_daily (day)"],
            reverse_sql=["DROP MATERIALIZED VIEW IF EXISTS reports_sales_daily"],
        ),
        migrations.RunSQL(
            sql=[
                CUSTOMERS_DAILY,
                "CREATE UNIQUE INDEX reports_customers_daily_day ON reports_customers_daily (day)",
            ],
            reverse_sql=["DROP MATERIALIZED VIEW IF EXISTS reports_customers_daily"],
        ),
        migrations.RunSQL(
            sql=[
                PRODUCT_SALES,
                "CREATE UNIQUE INDEX reports_product_sales_product ON reports_product_sales (product_id)",
                # Top products by revenue.
                "CREATE INDEX reports_product_sales_revenue ON reports_product_sales (revenue DESC)",
            ],
            reverse_sql=["DROP MATERIALIZED VIEW IF EXISTS reports_product_sales"],
        ),
        migrations.RunSQL(
            sql=[
                CUSTOMER_VALUE,
                "CREATE UNIQUE INDEX reports_customer_value_customer ON reports_customer_value (customer_id)",
                # Top customers by total spent.
                "CREATE INDEX reports_customer_value_spent ON reports_customer_value (total_spent DESC)",
            ],
            reverse_sql=["DROP MATERIALIZED VIEW IF EXISTS reports_customer_value"],
        ),
        migrations.RunSQL(
            sql=[
                CATEGORY_MONTHLY,
                # The unique key, led by month for the dashboard's range of months.
                "CREATE UNIQUE INDEX reports_category_monthly_month ON reports_category_monthly (month, category_id)",
            ],
            reverse_sql=["DROP MATERIALIZED VIEW IF EXISTS reports_category_monthly"],
        ),
    ]
