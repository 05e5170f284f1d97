"""The local stack gives the shop pg_stat_statements, which the database health page reads: the
primary loads the library, every database has the extension (the test databases through
template1), and making sure of it again on a running stack changes nothing. Nothing here stops,
restarts or reconfigures a server."""

import os

import pytest
from django.db import connection

from shopsite import localstack
from shopsite.localstack import postgres
from shopsite.localstack.config import PG_DATABASE
from shopsite.localstack.processes import find_binary

STACK_ENV = localstack.urls() if localstack.ENV_FILE.exists() else {}

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        STACK_ENV.get("DATABASE_URL") != os.environ.get("DATABASE_URL"),
        reason="the suite runs against servers given in DATABASE_URL, not the local stack",
    ),
]


def test_the_primary_loads_pg_stat_statements_and_the_test_database_has_it():
    with connection.cursor() as cursor:
        cursor.execute("SHOW shared_preload_libraries")
        (libraries,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'")
        (extensions,) = cursor.fetchone()
        cursor.execute("SELECT count(*) > 0 FROM pg_stat_statements")
        (recorded,) = cursor.fetchone()

    assert "pg_stat_statements" in libraries
    assert extensions == 1  # copied from template1 with the rest of the test database
    assert recorded


def test_making_sure_again_on_the_running_primary_changes_nothing():
    bins = {"psql": find_binary("psql")}
    primary = postgres.servers(postgres.pg_root(None, create=False), 0)[0]
    password = postgres.load_password()

    assert postgres.statements_preloaded(bins, primary, password) == []
    databases = [*postgres.STATEMENTS_DATABASES, PG_DATABASE]
    assert postgres.statements_extension(bins, primary, password, databases) == []
