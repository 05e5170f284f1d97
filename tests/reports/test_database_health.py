"""The database health page at /admin/reports/databasehealth/: who may see it, what each section
reads from the real servers, what it says when a section cannot be read, what it costs."""

from __future__ import annotations

import re
import socket
import time
from datetime import timedelta
from html import unescape
from uuid import uuid4

import psycopg2
import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db import DatabaseError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from reports.models import REPORT_MODELS, CommandRun, RefreshLog
from reports.server_statistics import (
    NO_POOLER,
    NO_POOLER_CONSOLE,
    NOT_ALLOWED,
    NOT_INSTALLED,
    NOT_LOADED,
    OLD_VERSION,
    IndexUse,
    index_usage,
    server_statements,
    statements_problem,
)
from reports.services import CLOSED_DAYS_LOG, reports_refresh, view_names
from shopsite.settings.base import same_database
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(databases=["default", *settings.REPLICA_ALIASES])

URL = "/admin/reports/databasehealth/"
SERVERS = ["default", *settings.REPLICA_ALIASES]


def staff(*codenames: str):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


def page_text(response) -> str:
    return unescape(response.content.decode())


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_probe(times: int) -> str:
    """Run a statement of a shape no other test runs (it reads a table of its own) `times`
    times, over 2 rows; return that table's name."""
    table = f"health_probe_{uuid4().hex[:12]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE {table} (n integer)")
        cursor.execute(f"INSERT INTO {table} VALUES (1), (2)")
        for _ in range(times):
            cursor.execute(f"SELECT n FROM {table}")
    return table


def preloads_statements(alias: str) -> bool:
    with connections[alias].cursor() as cursor:
        cursor.execute("SHOW shared_preload_libraries")
        return "pg_stat_statements" in cursor.fetchone()[0]


# --- Who may see it ------------------------------------------------------------------------------


def test_the_page_lives_at_admin_reports_databasehealth():
    assert reverse("admin:reports_databasehealth_changelist") == URL


def test_anonymous_visitors_and_customers_get_the_admin_login_page(client):
    anonymous = client.get(URL)
    client.force_login(UserFactory())
    customer = client.get(URL)

    for response in (anonymous, customer):
        assert response.status_code == 302
        assert response["Location"].startswith(f"{reverse('admin:login')}?next=")


def test_staff_without_the_permission_get_403_even_with_the_reports_ones(client):
    client.force_login(staff("view_dashboard", "view_salesdaily"))

    assert client.get(URL).status_code == 403


def test_staff_with_the_permission_see_the_page(client):
    client.force_login(staff("view_databasehealth"))

    response = client.get(URL)

    assert response.status_code == 200
    assert 'id="statements"' in response.content.decode()


def test_the_admin_index_links_the_page_for_staff_who_may_see_it(client, admin_client):
    assert f'href="{URL}"' in admin_client.get(reverse("admin:index")).content.decode()

    client.force_login(staff("view_dashboard"))
    index = client.get(reverse("admin:index")).content.decode()
    assert f'href="{URL}"' not in index
    assert 'href="/admin/reports/dashboard/"' in index

    client.force_login(staff("view_databasehealth"))
    index = client.get(reverse("admin:index")).content.decode()
    assert f'href="{URL}"' in index
    assert 'href="/admin/reports/dashboard/"' not in index


# --- Statements ----------------------------------------------------------------------------------


def test_the_primary_counts_each_statement_s_calls_and_rows():
    table = run_probe(3)

    statements = server_statements("default", top=10_000)

    probe = next(s for s in statements.by_total if f"FROM {table}" in s.query)
    assert (probe.calls, probe.rows) == (3, 6)
    assert probe.total_ms == pytest.approx(probe.mean_ms * 3)
    assert statements.problem == ""


def test_the_top_statements_are_ranked_by_total_and_by_mean_time():
    run_probe(2)

    statements = server_statements("default", top=5)

    assert 0 < len(statements.by_total) <= 5
    assert 0 < len(statements.by_mean) <= 5
    totals = [s.total_ms for s in statements.by_total]
    means = [s.mean_ms for s in statements.by_mean]
    assert totals == sorted(totals, reverse=True)
    assert means == sorted(means, reverse=True)
    # With room for all, each list holds every statement: the same ones in two orders.
    everything = server_statements("default", top=10_000)
    assert sorted(s.query for s in everything.by_total) == sorted(s.query for s in everything.by_mean)


@pytest.mark.parametrize("alias", SERVERS)
def test_each_server_shows_its_statements_or_says_the_library_is_not_loaded(alias):
    # Whatever this stack's servers were started with: each server is asked what it loaded.
    loaded = preloads_statements(alias)

    statements = server_statements(alias)

    if loaded:
        assert statements.problem == ""
        assert statements.by_total  # at least the SHOW just run
    else:
        assert statements.problem == NOT_LOADED


def test_without_the_extension_the_page_says_how_to_install_it_and_shows_the_rest(admin_client):
    with connection.cursor() as cursor:
        cursor.execute("DROP EXTENSION pg_stat_statements")  # undone with the test's transaction

    response = admin_client.get(URL)

    assert response.status_code == 200
    primary = response.context["report"].statements[0]
    assert (primary.server, primary.problem, primary.by_total) == ("default", NOT_INSTALLED, [])
    text = page_text(response)
    assert NOT_INSTALLED in text
    for section in ("indexes", "replication", "poolers", "report-views", "commands"):
        assert f'id="{section}"' in text
    assert response.context["report"].indexes.indexes  # read after the failed read, on the same connection


def test_a_user_without_pg_read_all_stats_is_told_how_many_statements_are_hidden():
    table = run_probe(1)  # the test's user's statement
    reader = f"health_reader_{uuid4().hex[:12]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {reader} NOLOGIN")  # undone with the test's transaction
        cursor.execute(f"SET LOCAL ROLE {reader}")
    try:
        statements = server_statements("default", top=10_000)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")

    assert statements.problem == ""
    assert statements.hidden >= 1
    assert f"{statements.hidden} statements of other database users are hidden" in statements.hidden_note
    assert "GRANT pg_read_all_stats TO" in statements.hidden_note
    shown = [s.query for s in statements.by_total]
    assert "<insufficient privilege>" not in shown
    assert not [query for query in shown if table in query]


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        ("42P01", 'relation "pg_stat_statements" does not exist', NOT_INSTALLED),
        ("55000", "pg_stat_statements must be loaded via shared_preload_libraries", NOT_LOADED),
        ("42703", 'column "total_exec_time" does not exist', OLD_VERSION),
        ("42883", "function pg_stat_statements(boolean) does not exist", OLD_VERSION),
        ("42501", "permission denied for view pg_stat_statements", NOT_ALLOWED.format(user="shop")),
        ("53300", "too many connections", "pg_stat_statements could not be read: too many connections"),
    ],
)
def test_each_failure_to_read_the_statements_says_what_to_do(code, message, expected):
    # The server raises the very error (code and message) a server in that state raises.
    with pytest.raises(DatabaseError) as raised, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '{code}', MESSAGE = '{message}'; END $$")

    assert statements_problem(raised.value, user="shop") == expected


# --- Indexes, tables, caches ---------------------------------------------------------------------


def test_an_index_no_server_has_scanned_is_a_candidate_and_a_unique_one_is_kept():
    with connection.cursor() as cursor:
        cursor.execute("CREATE INDEX health_unused ON catalog_product (stock)")
        cursor.execute("CREATE UNIQUE INDEX health_unused_unique ON catalog_product (sku, stock)")

    usage = index_usage(SERVERS, down={})

    indexes = {index.index: index for index in usage.indexes}
    unused, unique = indexes["health_unused"], indexes["health_unused_unique"]
    assert (unused.table, unused.enforces, unused.never_used) == ("catalog_product", False, True)
    assert unused.size > 0
    # Uncommitted, the index is on the primary only: the replicas have no scans of it.
    assert unused.scans == dict.fromkeys(SERVERS, 0)
    assert unused in usage.never_used
    # Never scanned either, but it enforces uniqueness: counted apart, not a candidate.
    assert (unique.enforces, unique.never_used) == (True, True)
    assert unique not in usage.never_used
    assert usage.never_used_enforcing >= 1


@pytest.mark.parametrize(
    ("scans", "never_used"),
    [
        ({"default": 0, "replica": 5}, False),  # only a replica's reads use it: used
        ({"default": 3, "replica": 0}, False),
        ({"default": 0, "replica": 0}, True),
        ({"default": 0, "replica": None}, True),  # a replica that did not answer counts for nothing
        ({"default": None, "replica": None}, False),  # nobody answered: nothing is known
    ],
)
def test_an_index_is_never_used_only_if_no_server_that_answered_scanned_it(scans, never_used):
    index = IndexUse("t", "i", size=8192, estimated=False, enforces=False, scans=scans)

    assert index.never_used is never_used


def _session_of_its_own():
    """Open a connection to the test database, to the server itself when its URL is known (a
    pooled client that leaves ends no server session)."""
    name = connection.settings_dict["NAME"]
    if settings.DATABASE_DIRECT_URL:
        return psycopg2.connect(same_database(settings.DATABASE_DIRECT_URL, f"postgres:///{name}"))
    params = connection.get_connection_params()
    return psycopg2.connect(**{key: value for key, value in params.items() if key != "cursor_factory"})


def _index_scans(index_name: str) -> int:
    with connection.cursor() as cursor:
        # The statistics read afresh, not the copy this transaction took at its first read.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
    usage = index_usage(["default"], down={})
    return next(index.scans["default"] for index in usage.indexes if index.index == index_name)


def test_the_scans_of_an_index_are_the_server_s_own_counters():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes"
            " WHERE tablename = 'accounts_order' AND indexdef LIKE '%%(created)'"
        )
        (created_index,) = cursor.fetchone()
    before = _index_scans(created_index)

    # Another session scans it, and exits: its counts reach the statistics by then at the latest.
    session = _session_of_its_own()
    try:
        with session.cursor() as cursor:
            cursor.execute("SET enable_seqscan = off")
            cursor.execute("SELECT count(*) FROM accounts_order WHERE created > now()")
        session.commit()
    finally:
        session.close()

    deadline = time.monotonic() + 10
    while (after := _index_scans(created_index)) == before and time.monotonic() < deadline:
        time.sleep(0.05)  # a poll, bounded by the deadline
    assert after > before


def test_a_table_another_session_locked_is_estimated_not_waited_for(admin_client):
    holder = _session_of_its_own()
    try:
        with holder.cursor() as cursor:  # not autocommit: the lock is held until the rollback
            cursor.execute("LOCK TABLE catalog_product IN ACCESS EXCLUSIVE MODE")

        response = admin_client.get(URL)
    finally:
        holder.rollback()
        holder.close()

    usage = response.context["report"].indexes
    assert usage.problems == []  # no server waited (the replicas replay the lock too)
    tables = {table.table: table for table in usage.tables}
    assert tables["catalog_product"].estimated
    assert not tables["catalog_category"].estimated
    locked_indexes = [index for index in usage.indexes if index.table == "catalog_product"]
    assert locked_indexes
    assert all(index.estimated for index in locked_indexes)
    assert not any(index.estimated for index in usage.indexes if index.table == "catalog_category")
    assert "\u2248 " in page_text(response)  # ≈, before each estimated size


def test_table_sizes_and_each_server_s_cache_hits_are_shown(admin_client):
    response = admin_client.get(URL)

    usage = response.context["report"].indexes
    tables = {table.table: table for table in usage.tables}
    assert tables["catalog_product"].total_size >= tables["catalog_product"].indexes_size > 0
    assert [server.server for server in usage.caches] == SERVERS
    for server in usage.caches:
        assert server.problem == ""
        assert server.hits > 0
        assert 0 < server.hit_percent <= 100
    assert 'id="cache-hits"' in response.content.decode()


# --- Replicas and poolers ------------------------------------------------------------------------


def test_each_replica_s_lag_is_shown(admin_client):
    report = admin_client.get(URL).context["report"]

    assert [replica.server for replica in report.replicas] == settings.REPLICA_ALIASES
    for replica in report.replicas:
        assert replica.up
        assert replica.lag_bytes >= 0
        assert replica.lag_seconds >= 0


@pytest.mark.skipif(not settings.REPLICA_ALIASES, reason="no replica configured")
def test_a_replica_that_is_down_is_reported_and_the_rest_of_the_page_shown(admin_client, monkeypatch):
    replica = connections["replica"]
    replica.close()
    monkeypatch.setitem(replica.settings_dict, "PORT", _closed_port())

    response = admin_client.get(URL)

    assert response.status_code == 200
    report = response.context["report"]
    down = report.replicas[0]
    assert (down.server, down.up) == ("replica", False)
    assert down.problem.startswith("replica does not answer: ")
    assert report.statements[1].problem == down.problem
    assert report.statements[0].problem in {"", NOT_LOADED}  # the primary is read as usual
    assert all(index.scans["replica"] is None for index in report.indexes.indexes)
    assert report.indexes.problems == [f"replica: {down.problem}"]
    assert down.problem in page_text(response)


@pytest.mark.skipif(not settings.POOLER_ADMIN_URLS, reason="the stack runs without its poolers")
def test_each_pooler_s_pools_are_shown_with_this_database_s(admin_client):
    report = admin_client.get(URL).context["report"]

    assert report.poolers_problem == ""
    assert len(report.poolers) == len(settings.POOLER_ADMIN_URLS)
    primary = report.poolers[0]
    assert primary.problem == ""
    ours = next(pool for pool in primary.pools if pool.database == connection.settings_dict["NAME"])
    assert ours.user == connection.settings_dict["USER"]
    assert ours.clients_active + ours.clients_waiting >= 1  # this test's own connection
    assert "pgbouncer" not in {pool.database for pool in primary.pools}


def test_without_a_pooler_or_its_console_the_page_says_so(admin_client, settings):
    settings.POOLER_ADMIN_URLS = []
    no_console = admin_client.get(URL)
    cache.clear()  # the next request reads the servers again
    settings.DATABASE_POOLER = ""
    direct = admin_client.get(URL)

    assert no_console.context["report"].poolers_problem == NO_POOLER_CONSOLE
    assert direct.context["report"].poolers_problem == NO_POOLER
    assert NO_POOLER in page_text(direct)


def test_a_pooler_console_that_does_not_answer_is_reported_without_its_password(admin_client, settings):
    port = _closed_port()
    settings.DATABASE_POOLER = "pgbouncer"
    settings.POOLER_ADMIN_URLS = [
        f"postgres://shopsite:s3cret-pooler-pw@127.0.0.1:{port}/pgbouncer",
        # A PostgreSQL server, not a PgBouncer: it knows no SHOW POOLS.
        settings.DATABASE_DIRECT_URL or "postgres://nobody@127.0.0.1:1/none",
        "postgres://shopsite:s3cret-pooler-pw@127.0.0.1:six/pgbouncer",  # no port libpq can read
    ]

    response = admin_client.get(URL)

    assert response.status_code == 200
    down, wrong, garbled = response.context["report"].poolers
    assert down.pooler == f"127.0.0.1:{port}"
    assert down.problem.startswith("The pooler's admin console does not answer: ")
    assert wrong.problem.startswith("SHOW POOLS failed: ")
    assert garbled.pooler == "127.0.0.1:5432"
    assert garbled.problem.startswith("The pooler's admin console does not answer: ")
    assert "s3cret-pooler-pw" not in response.content.decode()


# --- Report views and commands -------------------------------------------------------------------


def test_each_report_view_shows_its_freshness_and_newest_refresh(admin_client):
    reports_refresh()

    report = admin_client.get(URL).context["report"]

    assert [view.view for view in report.views] == view_names()
    newest = {log.view: log for log in RefreshLog.objects.order_by("started", "pk")}  # the last wins
    for view in report.views:
        assert view.populated
        assert view.refreshed == newest[view.view].started
        assert (view.duration, view.rows) == (newest[view.view].duration, newest[view.view].rows)
    # The first refresh: every view, the days it closed, every view again over the recent days.
    assert {refresh.view for refresh in report.refreshes} == {*view_names(), CLOSED_DAYS_LOG}


def test_views_never_refreshed_say_so(admin_client):
    response = admin_client.get(URL)

    assert not any(view.populated for view in response.context["report"].views)
    assert page_text(response).count("never refreshed: run manage.py refresh_reports") == len(view_names())


def _command_run(name: str, *, seconds: float, days_ago: float = 0, exit_code: int = 0) -> CommandRun:
    return CommandRun.objects.create(
        name=name,
        started=timezone.now() - timedelta(days=days_ago),
        duration=timedelta(seconds=seconds),
        queries=12,
        database_time=timedelta(seconds=seconds / 2),
        exit_code=exit_code,
    )


def test_the_slowest_commands_of_the_last_week_come_first_failures_marked(admin_client):
    _command_run("clearsessions", seconds=0.2)
    _command_run("import_products", seconds=3, exit_code=1)
    _command_run("refresh_reports", seconds=4.5)
    _command_run("seed_demo", seconds=600, days_ago=8)  # slower, but not recent

    response = admin_client.get(URL)

    runs = response.context["report"].commands
    assert [run.name for run in runs] == ["refresh_reports", "import_products", "clearsessions"]
    assert runs[0].duration_ms == pytest.approx(4500)
    assert runs[0].database_ms == pytest.approx(2250)
    assert "failed (exit 1)" in page_text(response)
    assert "4,500.0 ms" in page_text(response)


# --- What it costs -------------------------------------------------------------------------------


# The savepoint around the statements' read exists only inside a transaction: a test's.
SAVEPOINTS = re.compile(r"(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT) ")


def _queries_by_alias(request) -> dict[str, int]:
    """Return how many statements each alias ran for `request`, leaving out the test's savepoints."""
    contexts = {alias: CaptureQueriesContext(connections[alias]) for alias in settings.DATABASES}
    for context in contexts.values():
        context.__enter__()
    try:
        request()
    finally:
        for context in contexts.values():
            context.__exit__(None, None, None)
    return {
        alias: len([query for query in context.captured_queries if not SAVEPOINTS.match(query["sql"])])
        for alias, context in contexts.items()
    }


def _statement_shapes(n: int) -> None:
    """Put n statements of distinct shapes in pg_stat_statements (1 to n columns)."""
    with connection.cursor() as cursor:
        for columns in range(1, n + 1):
            cursor.execute("SELECT " + ", ".join(["1"] * columns))


@pytest.mark.parametrize("n", [2, 40])
def test_the_page_asks_each_server_a_fixed_number_of_questions_then_none_while_cached(admin_client, n):
    _statement_shapes(n)
    RefreshLog.objects.bulk_create(
        RefreshLog(
            view=list(REPORT_MODELS)[k % len(REPORT_MODELS)],
            started=timezone.now() - timedelta(minutes=k),
            duration=timedelta(seconds=1),
            rows=k,
            concurrently=True,
        )
        for k in range(n)
    )
    for k in range(n):
        _command_run(f"command_{k}", seconds=k)

    cold = _queries_by_alias(lambda: admin_client.get(URL))
    warm = _queries_by_alias(lambda: admin_client.get(URL))

    # The primary: the user; its WAL position; its statements; index scans; cache hits; table
    # sizes; the views' freshness; each view's newest refresh; the newest refreshes; the slowest
    # commands. Each replica: its lag, statements, index scans, cache hits. (The poolers' consoles
    # are connections of their own, not Django's.) Cached: the user only (the session is in Redis).
    assert cold == {"default": 10} | dict.fromkeys(settings.REPLICA_ALIASES, 4)
    assert warm == {"default": 1} | dict.fromkeys(settings.REPLICA_ALIASES, 0)


def test_with_redis_down_the_page_is_read_from_the_servers_each_time(admin_client, settings):
    settings.CACHES = {"default": settings.CACHES["default"] | {"LOCATION": "redis://127.0.0.1:1/0"}}

    for _ in range(2):
        counts = _queries_by_alias(lambda: admin_client.get(URL))
        # the session too, from the database since Redis is down
        assert counts == {"default": 11} | dict.fromkeys(settings.REPLICA_ALIASES, 4)
