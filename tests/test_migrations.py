from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection


@pytest.mark.django_db
def test_models_and_migrations_agree():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


def _tables() -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.table_names(cursor))


@pytest.mark.django_db(transaction=True)
def test_every_app_migrates_to_zero_and_back():
    shop_tables = {
        "catalog_category",
        "catalog_product",
        "accounts_customer",
        "accounts_order",
        "accounts_orderitem",
    }
    assert shop_tables <= _tables()

    # accounts first: its tables point at the catalog's.
    for app in ("reports", "accounts", "catalog"):
        call_command("migrate", app, "zero", verbosity=0)
    assert not shop_tables & _tables()
    assert "accounts_user" not in _tables()

    call_command("migrate", verbosity=0)
    assert shop_tables <= _tables()
