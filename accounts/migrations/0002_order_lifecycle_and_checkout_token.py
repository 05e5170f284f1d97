from django.db import migrations, models

# Rows written before these constraints (admin could set any status and shipped time) are made to
# obey them first: an order marked shipped without a time, or shipped before it was placed, gets
# the one time known to be no later than the shipment, its creation. Nothing to undo going back.
REPAIR_SHIPPED_TIMES = """
    UPDATE accounts_order SET shipped = created
    WHERE (status IN ('shipped', 'delivered') AND shipped IS NULL) OR shipped < created
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="checkout_token",
            field=models.UUIDField(blank=True, editable=False, null=True),
        ),
        migrations.RunSQL(REPAIR_SHIPPED_TIMES, reverse_sql=migrations.RunSQL.noop),
        migrations.AddConstraint(
            model_name="order",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("shipped__isnull", False),
                    models.Q(("status__in", ("shipped", "delivered")), _negated=True),
                    _connector="OR",
                ),
                name="order_shipped_time_when_shipped",
            ),
        ),
        migrations.AddConstraint(
            model_name="order",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("shipped__isnull", True), ("shipped__gte", models.F("created")), _connector="OR"
                ),
                name="order_shipped_not_before_created",
            ),
        ),
        migrations.AddConstraint(
            model_name="order",
            constraint=models.UniqueConstraint(
                fields=("checkout_token",), name="order_checkout_token_unique"
            ),
        ),
    ]
