"""The router's decisions, one case at a time (the real replica is in tests/integration/)."""

import logging

import pytest
from django.db import connections, transaction

from accounts.models import User
from catalog.models import Product
from shopsite.db import replicas
from shopsite.db.replicas import ReplicaPool, parse_lsn
from shopsite.db.router import PRIMARY, PrimaryReplicaRouter, Route, current_route, replica_reads
from shopsite.db.routing import _writes

router = PrimaryReplicaRouter()


@pytest.fixture
def healthy_replica(monkeypatch):
    """A pool whose only replica is healthy and has replayed up to `replayed[0]`."""
    replayed = [100]
    monkeypatch.setattr(replicas.pool, "choose", lambda: "replica")
    monkeypatch.setattr(replicas.pool, "replay_lsn", lambda alias: replayed[0])
    return replayed


def _read_alias(route: Route) -> str:
    token = current_route.set(route)
    try:
        return router.db_for_read(Product)
    finally:
        current_route.reset(token)


def test_writes_and_migrations_go_to_the_primary_only():
    assert router.db_for_write(Product) == PRIMARY
    assert router.allow_migrate(PRIMARY, "catalog") is True
    assert router.allow_migrate("replica", "catalog") is False


def test_objects_from_the_primary_and_a_replica_may_relate():
    on_primary, on_replica, elsewhere = User(), User(), User()
    on_primary._state.db, on_replica._state.db, elsewhere._state.db = PRIMARY, "replica", "other"
    assert router.allow_relation(on_primary, on_replica) is True
    assert router.allow_relation(on_primary, elsewhere) is False


def test_reads_outside_a_request_go_to_the_primary(healthy_replica):
    assert router.db_for_read(Product) == PRIMARY


def test_management_code_may_opt_in_to_replica_reads(healthy_replica):
    with replica_reads():
        assert router.db_for_read(Product) == "replica"


def test_a_request_reads_from_a_healthy_replica(healthy_replica):
    assert _read_alias(Route()) == "replica"


def test_admin_requests_read_from_the_primary(healthy_replica):
    assert _read_alias(Route(pin_primary=True)) == PRIMARY


def test_a_request_that_wrote_reads_from_the_primary(healthy_replica):
    route = Route()
    assert _read_alias(route) == "replica"
    route.note_write()
    assert _read_alias(route) == PRIMARY


def test_a_request_whose_replica_failed_reads_from_the_primary_and_does_not_name_the_replica(healthy_replica):
    route = Route()
    assert _read_alias(route) == "replica"

    assert route.fall_back_to_primary() == "replica"

    assert _read_alias(route) == PRIMARY
    assert route.served == {PRIMARY}
    assert route.fall_back_to_primary() is None  # nothing left to give up


@pytest.mark.django_db
def test_reads_inside_a_transaction_on_the_primary_stay_on_it(healthy_replica):
    with transaction.atomic():
        assert connections[PRIMARY].in_atomic_block
        assert _read_alias(Route()) == PRIMARY


def test_a_client_whose_write_the_replica_has_not_replayed_reads_from_the_primary(healthy_replica):
    healthy_replica[0] = 99
    route = Route(required_lsn=100)
    assert _read_alias(route) == PRIMARY
    assert route.caught_up is False


def test_a_client_whose_write_the_replica_has_replayed_reads_from_it_again(healthy_replica):
    healthy_replica[0] = 100
    route = Route(required_lsn=100)
    assert _read_alias(route) == "replica"
    assert route.caught_up is True


def test_with_no_healthy_replica_reads_go_to_the_primary(monkeypatch):
    monkeypatch.setattr(replicas.pool, "choose", lambda: None)
    assert _read_alias(Route()) == PRIMARY


def test_the_replica_is_chosen_once_per_request(monkeypatch):
    picks = iter(["replica", "replica_2"])
    monkeypatch.setattr(replicas.pool, "choose", lambda: next(picks))
    route = Route()
    assert {_read_alias(route) for _ in range(3)} == {"replica"}


@pytest.mark.parametrize(
    ("sql", "writes"),
    [
        ("SELECT 1", False),
        ('(SELECT "a" FROM t) UNION ALL (SELECT "b" FROM t)', False),
        ("  select pg_current_wal_lsn()", False),
        ("SAVEPOINT s1", False),
        ("RELEASE SAVEPOINT s1", False),
        ("WITH x AS (SELECT 1) SELECT * FROM x", False),
        ('INSERT INTO "t" VALUES (1)', True),
        ('UPDATE "t" SET a = 1', True),
        ('DELETE FROM "t"', True),
        ("WITH upserted AS (INSERT INTO t SELECT 1 RETURNING 1) SELECT count(*) FROM upserted", True),
        ("TRUNCATE t", True),
    ],
)
def test_statements_are_told_apart_as_reads_or_writes(sql, writes):
    assert _writes(sql) is writes


def test_lsn_parsing_orders_positions():
    assert parse_lsn("0/16B3748") < parse_lsn("0/16B3749") < parse_lsn("1/0")
    assert parse_lsn("1/0") == 2**32


# --- The pool of replicas -------------------------------------------------------------------


@pytest.fixture
def pool(settings, monkeypatch):
    settings.REPLICA_ALIASES = ["replica"]
    settings.REPLICA_CHECK_INTERVAL = 60
    settings.REPLICA_BACKOFF_SECONDS = 60
    checks = []
    pool = ReplicaPool()
    monkeypatch.setattr(pool, "_check", lambda alias: checks.append(alias))
    pool.checks = checks
    return pool


def test_a_replica_is_checked_at_most_once_per_interval(pool):
    for _ in range(5):
        assert pool.choose() == "replica"
    assert pool.checks == ["replica"]


def test_a_replica_marked_down_is_skipped_for_the_back_off_period_and_logged(pool, caplog):
    pool.choose()
    with caplog.at_level(logging.WARNING, logger="shopsite.replicas"):
        pool.mark_down("replica", "connection refused")

    assert pool.choose() is None
    assert "replica replica taken out for 60s: connection refused" in caplog.text
