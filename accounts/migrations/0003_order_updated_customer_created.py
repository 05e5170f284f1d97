"""Orders say when they last changed, and customers are indexed by creation, for the reports.

`Order.updated` (placed, or status last changed; the database's clock) lets the reports' refresh
find the days it must count again; `customer_created` serves the dashboard's live count of
today's new customers. Both indexes are built CONCURRENTLY, so that a shop taking orders keeps
taking them while the migration runs (hence a non-atomic migration). The new column's default,
statement_timestamp(), is not volatile: PostgreSQL adds it without rewriting the table.
"""

import django.db.models.functions.datetime
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("accounts", "0002_order_lifecycle_and_checkout_token")]

    operations = [
        migrations.AddField(
            model_name="order",
            name="updated",
            field=models.DateTimeField(db_default=django.db.models.functions.datetime.Now(), editable=False),
        ),
        AddIndexConcurrently(
            model_name="order",
            index=models.Index(fields=["updated"], name="order_updated"),
        ),
        AddIndexConcurrently(
            model_name="customer",
            index=models.Index(fields=["created"], name="customer_created"),
        ),
    ]
