"""The reports in three layers: closed days in tables, recent days in views, the open period live.

Until 0003 every report view aggregated every order ever placed, so each refresh re-read two years
of orders (4.5 s at a million orders). From here on (docs/ARCHITECTURE.md, "Reports"):

- `reports_window` (one row) says where the layers meet: days before `closed_until` are in the
  `reports_closed_*` tables, days from it to `recent_until` in the `reports_*_recent` materialized
  views, and the dashboard counts the orders from `recent_until` on live;
- the recent views count the sold orders of `reports_recent_orders`: those of the recent days and
  those of closed days the refresh reopened because their orders changed (`reopened`). A refresh
  recomputes them CONCURRENTLY, then copies the days that leave them into the closed tables
  (reports/services.py): its work is proportional to the days it counts, not to history;
- the admin's report lists keep their names and become plain views over the three layers, the
  open period counted live as the dashboard does; new customers are counted by the materialized
  view `reports_new_customers` (a recount over the customers, no orders) and live.

Every materialized view is created WITH NO DATA: `manage.py refresh_reports` fills it, the first
time with all history (the window is empty). The SQL of 0003's views is written out again below
for the way back, which empties the closed tables.
"""

import django.contrib.postgres.fields
from django.db import migrations, models

# The one row, and its statistics: the planner would otherwise guess a thousand rows of a table it
# never analysed (autovacuum does not analyse a table this small), and plan for as many ranges.
WINDOW_ROW = [
    "INSERT INTO reports_reportwindow (id, reopened) VALUES (1, '{}')",
    "ANALYZE reports_reportwindow",
]

# The sold orders a refresh counts: those of the recent days (all history while nothing is
# closed), one range of the `created` index, and those of the closed days reopened because their
# orders changed, one range each. The window's values are scalar subqueries, evaluated once.
RECENT_ORDERS = """
CREATE VIEW reports_recent_orders AS
SELECT o.id, o.customer_id, o.total, (o.created AT TIME ZONE 'UTC')::date AS day
FROM accounts_order o
WHERE o.created >= (
        SELECT COALESCE(closed_until, '-infinity'::date)::timestamp AT TIME ZONE 'UTC'
        FROM reports_reportwindow
    )
  AND o.created < (SELECT recent_until::timestamp AT TIME ZONE 'UTC' FROM reports_reportwindow)
  AND o.status IN ('paid', 'shipped', 'delivered')
UNION ALL
SELECT o.id, o.customer_id, o.total, (o.created AT TIME ZONE 'UTC')::date
FROM (SELECT unnest(reopened) AS day FROM reports_reportwindow) reopened
JOIN accounts_order o
  ON o.created >= reopened.day::timestamp AT TIME ZONE 'UTC'
 AND o.created < (reopened.day + 1)::timestamp AT TIME ZONE 'UTC'
WHERE o.status IN ('paid', 'shipped', 'delivered')
"""

# Each order's lines by the (order_id, product_id) index, one probe per order: what a few days of
# orders need. (OFFSET 0 keeps PostgreSQL from flattening the LATERAL into a join it would plan
# from its guess of the window's size, with a hash of all three million lines.)
PRODUCT_RECENT = """
CREATE MATERIALIZED VIEW reports_product_recent AS
SELECT r.day,
       i.product_id,
       sum(i.quantity)::bigint AS units,
       sum(i.quantity * i.unit_price) AS revenue
FROM reports_recent_orders r
CROSS JOIN LATERAL (
    SELECT product_id, quantity, unit_price FROM accounts_orderitem WHERE order_id = r.id
    OFFSET 0
) i
GROUP BY 1, 2
WITH NO DATA
"""

# Items summed from the product rows above (one row per product and day, not one per line).
SALES_RECENT = """
CREATE MATERIALIZED VIEW reports_sales_recent AS
SELECT o.day, o.orders, COALESCE(p.items, 0)::bigint AS items, o.revenue
FROM (
    SELECT day, count(*) AS orders, sum(total) AS revenue FROM reports_recent_orders GROUP BY day
) o
LEFT JOIN (
    SELECT day, sum(units) AS items FROM reports_product_recent GROUP BY day
) p ON p.day = o.day
WITH NO DATA
"""

CUSTOMER_RECENT = """
CREATE MATERIALIZED VIEW reports_customer_recent AS
SELECT day, customer_id, count(*) AS orders, sum(total) AS revenue
FROM reports_recent_orders
GROUP BY 1, 2
WITH NO DATA
"""

# A product's category as the day is counted: a product moved later keeps its closed days.
CATEGORY_RECENT = """
CREATE MATERIALIZED VIEW reports_category_recent AS
SELECT r.day, p.category_id, sum(r.units)::bigint AS units, sum(r.revenue) AS revenue
FROM reports_product_recent r
JOIN catalog_product p ON p.id = r.product_id
GROUP BY 1, 2
WITH NO DATA
"""

# Over the customers, not the orders: a full recount each refresh, of the days before the open period.
NEW_CUSTOMERS = """
CREATE MATERIALIZED VIEW reports_new_customers AS
SELECT (c.created AT TIME ZONE 'UTC')::date AS day, count(*) AS new_customers
FROM accounts_customer c
WHERE c.created < (SELECT recent_until::timestamp AT TIME ZONE 'UTC' FROM reports_reportwindow)
GROUP BY 1
WITH NO DATA
"""

# The admin's lists: the closed days, the recent days the window gives the recent views, and the
# open period live (one range of the orders' `created` index), like the dashboard.
LIVE_ORDERS = """
    o.created >= (SELECT recent_until::timestamp AT TIME ZONE 'UTC' FROM reports_reportwindow)
    AND o.status IN ('paid', 'shipped', 'delivered')
"""

SALES_DAILY = f"""
CREATE VIEW reports_sales_daily AS
SELECT s.day,
       sum(s.orders)::bigint AS orders,
       sum(s.items)::bigint AS items,
       sum(s.revenue) AS revenue,
       round(sum(s.revenue) / sum(s.orders), 2) AS average_order_value
FROM (
    SELECT day, orders, items, revenue FROM reports_closed_sales_day
    UNION ALL
    SELECT r.day, r.orders, r.items, r.revenue
    FROM reports_sales_recent r, reports_reportwindow w
    WHERE r.day >= COALESCE(w.closed_until, '-infinity'::date) AND r.day < w.recent_until
    UNION ALL
    SELECT (o.created AT TIME ZONE 'UTC')::date, 1, COALESCE(lines.units, 0), o.total
    FROM accounts_order o
    CROSS JOIN LATERAL (SELECT sum(quantity) AS units FROM accounts_orderitem WHERE order_id = o.id) lines
    WHERE {LIVE_ORDERS}
) s
GROUP BY s.day
"""

NEW_CUSTOMERS_DAILY = """
CREATE VIEW reports_customers_daily AS
SELECT day, sum(new_customers)::bigint AS new_customers
FROM (
    SELECT day, new_customers FROM reports_new_customers
    UNION ALL
    SELECT (c.created AT TIME ZONE 'UTC')::date, 1
    FROM accounts_customer c
    WHERE c.created >= (SELECT recent_until::timestamp AT TIME ZONE 'UTC' FROM reports_reportwindow)
) counted
GROUP BY day
"""

PRODUCT_SALES = f"""
CREATE VIEW reports_product_sales AS
SELECT p.id AS product_id,
       p.name,
       p.sku,
       p.category_id,
       c.name AS category_name,
       s.units,
       s.revenue,
       round(s.revenue / s.units, 2) AS average_unit_price
FROM (
    SELECT product_id, sum(units)::bigint AS units, sum(revenue) AS revenue
    FROM (
        SELECT product_id, units, revenue FROM reports_closed_product_total
        UNION ALL
        SELECT r.product_id, r.units, r.revenue
        FROM reports_product_recent r, reports_reportwindow w
        WHERE r.day >= COALESCE(w.closed_until, '-infinity'::date) AND r.day < w.recent_until
        UNION ALL
        SELECT i.product_id, i.quantity, i.quantity * i.unit_price
        FROM accounts_order o
        JOIN accounts_orderitem i ON i.order_id = o.id
        WHERE {LIVE_ORDERS}
    ) layers
    GROUP BY product_id
    HAVING sum(units) > 0
) s
JOIN catalog_product p ON p.id = s.product_id
JOIN catalog_category c ON c.id = p.category_id
"""

CUSTOMER_VALUE = f"""
CREATE VIEW reports_customer_value AS
SELECT c.id AS customer_id, c.name, c.email, s.orders, s.total_spent
FROM (
    SELECT customer_id, sum(orders)::bigint AS orders, sum(revenue) AS total_spent
    FROM (
        SELECT customer_id, orders, revenue FROM reports_closed_customer_total
        UNION ALL
        SELECT r.customer_id, r.orders, r.revenue
        FROM reports_customer_recent r, reports_reportwindow w
        WHERE r.day >= COALESCE(w.closed_until, '-infinity'::date) AND r.day < w.recent_until
        UNION ALL
        SELECT o.customer_id, 1, o.total FROM accounts_order o WHERE {LIVE_ORDERS}
    ) layers
    GROUP BY customer_id
    HAVING sum(orders) > 0
) s
JOIN accounts_customer c ON c.id = s.customer_id
"""

CATEGORY_MONTHLY = f"""
CREATE VIEW reports_category_monthly AS
SELECT to_char(m.month, 'YYYY-MM') || '/' || m.category_id AS id,
       m.category_id,
       c.name AS category_name,
       m.month,
       m.units,
       m.revenue
FROM (
    SELECT category_id, date_trunc('month', day)::date AS month, sum(units)::bigint AS units,
           sum(revenue) AS revenue
    FROM (
        SELECT day, category_id, units, revenue FROM reports_closed_category_day
        UNION ALL
        SELECT r.day, r.category_id, r.units, r.revenue
        FROM reports_category_recent r, reports_reportwindow w
        WHERE r.day >= COALESCE(w.closed_until, '-infinity'::date) AND r.day < w.recent_until
        UNION ALL
        SELECT (o.created AT TIME ZONE 'UTC')::date, p.category_id, i.quantity, i.quantity * i.unit_price
        FROM accounts_order o
        JOIN accounts_orderitem i ON i.order_id = o.id
        JOIN catalog_product p ON p.id = i.product_id
        WHERE {LIVE_ORDERS}
    ) days
    GROUP BY 1, 2
) m
JOIN catalog_category c ON c.id = m.category_id
"""

FORWARD = [
    "DROP MATERIALIZED VIEW reports_sales_daily",
    "DROP MATERIALIZED VIEW reports_customers_daily",
    "DROP MATERIALIZED VIEW reports_product_sales",
    "DROP MATERIALIZED VIEW reports_customer_value",
    "DROP MATERIALIZED VIEW reports_category_monthly",
    RECENT_ORDERS,
    PRODUCT_RECENT,
    # Each recent view's unique key, which REFRESH ... CONCURRENTLY requires; led by the day, as
    # the reads and the copy into the closed tables take ranges of days.
    "CREATE UNIQUE INDEX reports_product_recent_key ON reports_product_recent (day, product_id)",
    SALES_RECENT,
    "CREATE UNIQUE INDEX reports_sales_recent_key ON reports_sales_recent (day)",
    CUSTOMER_RECENT,
    "CREATE UNIQUE INDEX reports_customer_recent_key ON reports_customer_recent (day, customer_id)",
    CATEGORY_RECENT,
    "CREATE UNIQUE INDEX reports_category_recent_key ON reports_category_recent (day, category_id)",
    NEW_CUSTOMERS,
    "CREATE UNIQUE INDEX reports_new_customers_day ON reports_new_customers (day)",
    SALES_DAILY,
    NEW_CUSTOMERS_DAILY,
    PRODUCT_SALES,
    CUSTOMER_VALUE,
    CATEGORY_MONTHLY,
]

# The way back: 0003's views (0002's for the two 0003 left alone), empty as their migrations
# made them; the closed tables and the window go with the models above.
SALES_DAILY_0003 = """
CREATE MATERIALIZED VIEW reports_sales_daily AS
SELECT orders.day,
       orders.orders,
       COALESCE(lines.items, 0)::bigint AS items,
       orders.revenue,
       orders.average_order_value
FROM (
    SELECT (created AT TIME ZONE 'UTC')::date AS day,
           count(*) AS orders,
           sum(total) AS revenue,
           round(avg(total), 2) AS average_order_value
    FROM accounts_order
    WHERE status IN ('paid', 'shipped', 'delivered')
    GROUP BY 1
) orders
LEFT JOIN (
    SELECT (o.created AT TIME ZONE 'UTC')::date AS day,
           sum(i.quantity) AS items
    FROM accounts_orderitem i
    JOIN accounts_order o ON o.id = i.order_id
    WHERE o.status IN ('paid', 'shipped', 'delivered')
    GROUP BY 1
) lines ON lines.day = orders.day
WITH NO DATA
"""

CUSTOMERS_DAILY_0002 = """
CREATE MATERIALIZED VIEW reports_customers_daily AS
SELECT (created AT TIME ZONE 'UTC')::date AS day,
       count(*) AS new_customers
FROM accounts_customer
GROUP BY 1
WITH NO DATA
"""

PRODUCT_SALES_0002 = """
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

CUSTOMER_VALUE_0003 = """
CREATE MATERIALIZED VIEW reports_customer_value AS
SELECT c.id AS customer_id,
       c.name,
       c.email,
       s.orders,
       s.total_spent,
       s.first_order,
       s.last_order
FROM (
    SELECT customer_id,
           count(*) AS orders,
           sum(total) AS total_spent,
           min(created) AS first_order,
           max(created) AS last_order
    FROM accounts_order
    WHERE status IN ('paid', 'shipped', 'delivered')
    GROUP BY customer_id
) s
JOIN accounts_customer c ON c.id = s.customer_id
WITH NO DATA
"""

CATEGORY_MONTHLY_0003 = """
CREATE MATERIALIZED VIEW reports_category_monthly AS
SELECT to_char(monthly.month, 'YYYY-MM') || '/' || monthly.category_id AS id,
       monthly.category_id,
       c.name AS category_name,
       monthly.month,
       monthly.units,
       monthly.revenue
FROM (
    SELECT p.category_id,
           date_trunc('month', o.created AT TIME ZONE 'UTC')::date AS month,
           sum(i.quantity)::bigint AS units,
           sum(i.quantity * i.unit_price) AS revenue
    FROM accounts_orderitem i
    JOIN accounts_order o ON o.id = i.order_id
    JOIN catalog_product p ON p.id = i.product_id
    WHERE o.status IN ('paid', 'shipped', 'delivered')
    GROUP BY 1, 2
) monthly
JOIN catalog_category c ON c.id = monthly.category_id
WITH NO DATA
"""

BACKWARD = [
    "DROP VIEW reports_category_monthly",
    "DROP VIEW reports_customer_value",
    "DROP VIEW reports_product_sales",
    "DROP VIEW reports_customers_daily",
    "DROP VIEW reports_sales_daily",
    "DROP MATERIALIZED VIEW reports_new_customers",
    "DROP MATERIALIZED VIEW reports_category_recent",
    "DROP MATERIALIZED VIEW reports_customer_recent",
    "DROP MATERIALIZED VIEW reports_sales_recent",
    "DROP MATERIALIZED VIEW reports_product_recent",
    "DROP VIEW reports_recent_orders",
    SALES_DAILY_0003,
    "CREATE UNIQUE INDEX reports_sales_daily_day ON reports_sales_daily (day)",
    CUSTOMERS_DAILY_0002,
    "CREATE UNIQUE INDEX reports_customers_daily_day ON reports_customers_daily (day)",
    PRODUCT_SALES_0002,
    "CREATE UNIQUE INDEX reports_product_sales_product ON reports_product_sales (product_id)",
    "CREATE INDEX reports_product_sales_revenue ON reports_product_sales (revenue DESC)",
    CUSTOMER_VALUE_0003,
    "CREATE UNIQUE INDEX reports_customer_value_customer ON reports_customer_value (customer_id)",
    "CREATE INDEX reports_customer_value_spent ON reports_customer_value (total_spent DESC)",
    CATEGORY_MONTHLY_0003,
    "CREATE UNIQUE INDEX reports_category_monthly_month ON reports_category_monthly (month, category_id)",
]


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0003_report_views_aggregate_first"),
        ("accounts", "0003_order_updated_customer_created"),
    ]

    operations = [
        migrations.CreateModel(
            name="ClosedCategoryDay",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "day", "category_id", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("day", models.DateField()),
                ("category_id", models.BigIntegerField()),
                ("units", models.BigIntegerField()),
                ("revenue", models.DecimalField(decimal_places=2, max_digits=20)),
            ],
            options={
                "db_table": "reports_closed_category_day",
            },
        ),
        migrations.CreateModel(
            name="ClosedCustomerDay",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "day", "customer_id", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("day", models.DateField()),
                ("customer_id", models.BigIntegerField()),
                ("orders", models.BigIntegerField()),
                ("revenue", models.DecimalField(decimal_places=2, max_digits=20)),
            ],
            options={
                "db_table": "reports_closed_customer_day",
            },
        ),
        migrations.CreateModel(
            name="ClosedCustomerMonth",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "month", "customer_id", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("month", models.DateField()),
                ("customer_id", models.BigIntegerField()),
                ("orders", models.BigIntegerField()),
                ("revenue", models.DecimalField(decimal_places=2, max_digits=20)),
            ],
            options={
                "db_table": "reports_closed_customer_month",
            },
        ),
        migrations.CreateModel(
            name="ClosedCustomerTotal",
            fields=[
                ("customer_id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("orders", models.BigIntegerField()),
                ("revenue", models.DecimalField(decimal_places=2, max_digits=20)),
            ],
            options={
                "db_table": "reports_closed_customer_total",
            },
        ),
        migrations.CreateModel(
            name="ClosedProductDay",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "day", "product_id", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("day", models.DateField()),
                ("product_id", models.BigIntegerField()),
                ("units", models.BigIntegerField()),
                ("revenue", models.DecimalField(decimal_places=2, max_digits=20)),
            ],
            options={
                "db_table": "reports_closed_product_day",
            },
        ),
        migrations.CreateModel(
            name="ClosedProductMonth",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "month", "product_id", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("month", models.DateField()),
                ("product_id", models.BigIntegerField()),
                ("units", models.BigIntegerField()),
                ("revenue", models.DecimalField(decimal_places=2, max_digits=20)),
            ],
            options={
                "db_table": "reports_closed_product_month",
            },
        ),
        migrations.CreateModel(
            name="ClosedProductTotal",
            fields=[
                ("product_id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("units", models.BigIntegerField()),
                ("revenue", models.DecimalField(decimal_places=2, max_digits=20)),
            ],
            options={
                "db_table": "reports_closed_product_total",
            },
        ),
        migrations.CreateModel(
            name="ClosedSalesDay",
            fields=[
                ("day", models.DateField(primary_key=True, serialize=False)),
                ("orders", models.BigIntegerField()),
                ("items", models.BigIntegerField()),
                ("revenue", models.DecimalField(decimal_places=2, max_digits=20)),
            ],
            options={
                "db_table": "reports_closed_sales_day",
            },
        ),
        migrations.CreateModel(
            name="ReportWindow",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("closed_until", models.DateField(null=True)),
                ("recent_until", models.DateField(null=True)),
                (
                    "reopened",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.DateField(), default=list, size=None
                    ),
                ),
                ("changes_since", models.DateTimeField(null=True)),
                ("refreshed", models.DateTimeField(null=True)),
            ],
            options={
                "constraints": [
                    models.CheckConstraint(condition=models.Q(("id", 1)), name="reportwindow_one_row")
                ],
            },
        ),
        migrations.RunSQL(sql=WINDOW_ROW, reverse_sql=migrations.RunSQL.noop),
        migrations.RunSQL(sql=FORWARD, reverse_sql=BACKWARD),
    ]
