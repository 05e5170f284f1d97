"""accounts' migrations on data written before them: repaired to obey the new constraints, undoable."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.models import Order
from tests.factories import CustomerFactory

BEFORE = ("accounts", "0001_initial")
LIFECYCLE = ("accounts", "0002_order_lifecycle_and_checkout_token")


def _migrate(*targets: tuple[str, str]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()  # what the previous migration left
    executor.migrate(list(targets) or executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_the_lifecycle_migration_repairs_shipped_times_it_would_refuse_and_goes_back():
    customer = CustomerFactory()
    try:
        _migrate(BEFORE)
        with connection.cursor() as cursor:
            # As admin could leave them: shipped without a time, delivered before it was placed.
            cursor.execute(
                "INSERT INTO accounts_order (customer_id, status, total, created, shipped) VALUES"
                " (%s, 'shipped', 1, now() - interval '2 days', NULL),"
                " (%s, 'delivered', 1, now() - interval '2 days', now() - interval '3 days'),"
                " (%s, 'delivered', 1, now() - interval '2 days', now() - interval '1 day')",
                [customer.pk] * 3,
            )

        _migrate(LIFECYCLE)

        rows = list(Order.objects.order_by("pk").values_list("status", "created", "shipped"))
        (_, created, shipped), (_, created_2, shipped_2), (_, created_3, shipped_3) = rows
        assert (shipped, shipped_2) == (created, created_2)  # the one time known not to be too late
        assert shipped_3 > created_3  # a good time is kept
        _migrate(BEFORE)
    finally:
        _migrate()  # every app at its latest migration again, for the tests that follow
    assert not Order.objects.exclude(checkout_token=None).exists()
