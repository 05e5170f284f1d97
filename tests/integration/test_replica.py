"""The local stack's replica is a real streaming replica of the primary."""

import time

import pytest
from django.conf import settings
from django.db import connections

from accounts.models import User

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not settings.REPLICA_ALIASES, reason="no replica configured"),
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
]


def _scalar(alias: str, sql: str, params=()):
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def test_replica_is_in_recovery_and_primary_is_not():
    assert _scalar("default", "SELECT pg_is_in_recovery()") is False
    assert _scalar("replica", "SELECT pg_is_in_recovery()") is True


def test_replica_is_a_different_server_from_the_primary():
    primary_port = _scalar("default", "SELECT inet_server_port()")
    replica_port = _scalar("replica", "SELECT inet_server_port()")
    assert primary_port != replica_port


def test_a_row_committed_on_the_primary_appears_on_the_replica():
    user = User.objects.create(username="replicated")

    deadline = time.monotonic() + 10
    seen = False
    while not seen and time.monotonic() < deadline:
        seen = _scalar("replica", "SELECT count(*) FROM accounts_user WHERE id = %s", [user.pk]) == 1
        if not seen:
            time.sleep(0.02)
    assert seen, "the replica did not replay the primary's commit within 10 s"
