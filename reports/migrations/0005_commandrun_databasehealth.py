"""The log of management command runs, and the database health page's entry in admin (a proxy:
its URL and its permission `reports.view_databasehealth`)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0004_report_layers"),
    ]

    operations = [
        migrations.CreateModel(
            name="CommandRun",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100)),
                ("started", models.DateTimeField()),
                ("duration", models.DurationField()),
                ("queries", models.PositiveIntegerField()),
                ("database_time", models.DurationField()),
                ("exit_code", models.PositiveSmallIntegerField()),
            ],
            options={
                "ordering": ["-started"],
            },
        ),
        migrations.CreateModel(
            name="DatabaseHealth",
            fields=[],
            options={
                "verbose_name": "database health",
                "verbose_name_plural": "database health",
                "proxy": True,
                "default_permissions": ("view",),
                "indexes": [],
                "constraints": [],
            },
            bases=("reports.commandrun",),
        ),
    ]
