"""PgBouncer in front of every database, proven against the stack's real poolers and servers: the
pool bounds the server connections, a full pool answers 503 quickly and recovers, a pooler
restarted under traffic is survived, and every connection carries the web's timeouts."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import environ
import psycopg2
import pytest
from django.conf import settings
from django.db import OperationalError, connection, connections, transaction
from django.test import Client
from psycopg2 import errors

from accounts.models import User
from shopsite.db.timeouts import long_transaction
from tests.factories import CategoryFactory, ProductFactory
from tests.integration.faults import RequestLog, poll
from tests.integration.test_faults import MARGIN

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.skipif(settings.DATABASE_POOLER != "pgbouncer", reason="the stack runs without its poolers"),
]


def pooled(alias: str = "default", **extra) -> psycopg2.extensions.connection:
    """A new client of the alias's pooler, on the test database: another process, in effect."""
    params = connections[alias].get_connection_params()
    params.pop("cursor_factory", None)
    return psycopg2.connect(**params | extra)


def direct(alias: str = "default") -> psycopg2.extensions.connection:
    """A session on the alias's PostgreSQL server itself, past its pooler."""
    if alias == "default":
        config = environ.Env.db_url_config(settings.DATABASE_DIRECT_URL)
        address = {"host": config["HOST"], "port": config["PORT"]}
    else:
        address = settings.REPLICA_PROBES[alias]
    session = pooled(alias, **address, application_name="probe")
    session.autocommit = True
    return session


def server_connections(alias: str = "default") -> int:
    """The server connections on the test database, counted by the server (not the pooler)."""
    session = direct(alias)
    try:
        with session.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND application_name <> 'probe'"
            )
            return cursor.fetchone()[0]
    finally:
        session.close()


def hold(alias: str, seconds: float, started: threading.Event | None = None) -> None:
    """Occupy one server connection of the alias's pool for `seconds`, in a transaction."""
    client = pooled(alias)
    try:
        with client.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 0")
            if started:
                started.set()
            cursor.execute("SELECT pg_sleep(%s)", [seconds])
        client.rollback()
    finally:
        client.close()


def test_every_pooled_connection_has_the_web_timeouts_and_a_long_transaction_raises_its_own():
    expected = {
        "statement_timeout": str(settings.DATABASE_STATEMENT_TIMEOUT_MS),
        "lock_timeout": str(settings.DATABASE_LOCK_TIMEOUT_MS),
        "idle_in_transaction_session_timeout": str(settings.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS),
    }
    query = "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)"
    for alias in ["default", *settings.REPLICA_ALIASES]:
        with connections[alias].cursor() as cursor:
            cursor.execute(query, [list(expected)])
            assert dict(cursor.fetchall()) == expected, alias

    with transaction.atomic():
        long_transaction()
        with connection.cursor() as cursor:
            cursor.execute(query, [list(expected)])
            raised = dict(cursor.fetchall())
    with connection.cursor() as cursor:
        cursor.execute(query, [list(expected)])
        after = dict(cursor.fetchall())

    assert raised["statement_timeout"] == str(settings.COMMAND_STATEMENT_TIMEOUT_MS)
    assert raised["lock_timeout"] == str(settings.COMMAND_LOCK_TIMEOUT_MS)
    assert after == expected  # SET LOCAL: the pooled server connection got its limits back


def test_the_poolers_run_the_settings_pool():
    admin = settings.POOLER_ADMIN_URLS
    assert len(admin) == 1 + len(settings.REPLICA_ALIASES)
    for n, url in enumerate(admin):
        console = psycopg2.connect(url)
        console.autocommit = True
        with console.cursor() as cursor:
            cursor.execute("SHOW CONFIG")
            config = {row[0]: row[1] for row in cursor.fetchall()}
        console.close()
        wait = settings.DATABASE_POOL["timeout"] if n == 0 else settings.REPLICA_POOL_TIMEOUT
        assert config["pool_mode"] == "transaction"
        assert config["default_pool_size"] == str(settings.DATABASE_POOL["size"])
        assert config["reserve_pool_size"] == str(settings.DATABASE_POOL["overflow"])
        assert config["query_wait_timeout"] == str(wait)
        assert config["server_lifetime"] == str(settings.DATABASE_POOL["recycle"])
        assert config["server_check_query"] == ("select 1" if settings.DATABASE_POOL["pre_ping"] else "")


def test_a_statement_over_the_web_timeout_is_cancelled():
    started = time.monotonic()
    with pytest.raises(OperationalError) as cancelled, connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(%s)", [settings.DATABASE_STATEMENT_TIMEOUT_MS / 1000 + 5])
    took = time.monotonic() - started

    assert isinstance(cancelled.value.__cause__, errors.QueryCanceled)
    assert took < settings.DATABASE_STATEMENT_TIMEOUT_MS / 1000 + MARGIN


def staff_client(user: User | None = None) -> Client:
    """A signed-in superuser: admin reads from the primary."""
    user = user or User.objects.create_superuser("boss", "boss@example.com", "not-used")
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def test_a_page_blocked_by_a_lock_answers_an_error_page_not_a_hang():
    ProductFactory()
    client = staff_client()
    locker = direct("default")
    locker.autocommit = False
    try:
        with locker.cursor() as cursor:
            # What a stuck migration or transaction holds: every read of the table waits for it.
            cursor.execute("LOCK TABLE catalog_product IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        response = client.get("/admin/catalog/product/")
        took = time.monotonic() - started
    finally:
        locker.rollback()
        locker.close()

    assert response.status_code == 500  # a statement that failed: the error page, not a hang
    assert "Something went wrong on our side" in response.content.decode()
    assert took < settings.DATABASE_LOCK_TIMEOUT_MS / 1000 + MARGIN
    assert client.get("/admin/catalog/product/").status_code == 200  # and the next one is served


def test_two_hundred_clients_share_the_pool_and_all_are_served():
    size = settings.DATABASE_POOL["size"] + settings.DATABASE_POOL["overflow"]
    peak, stop = [0], threading.Event()

    def watch():
        while not stop.is_set():
            peak[0] = max(peak[0], server_connections())
            time.sleep(0.02)  # a sampling interval; the load below runs for seconds

    def client(n: int) -> int:
        session = pooled()
        try:
            with session.cursor() as cursor:
                cursor.execute("SELECT pg_sleep(0.05), %s", [n])
                return cursor.fetchone()[1]
        finally:
            session.rollback()
            session.close()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(max_workers=200) as clients:
            answers = list(clients.map(client, range(200)))
    finally:
        stop.set()
        watcher.join()

    assert answers == list(range(200))  # every client served
    assert 1 < peak[0] <= size, peak[0]  # shared: never more server connections than the pool


@pytest.fixture
def shop_page():
    category = CategoryFactory()
    ProductFactory(category=category)
    return f"/c/{category.slug}/"


def outage(response) -> bool:
    return response.status_code == 503 and response["Retry-After"] == str(settings.OUTAGE_RETRY_AFTER_SECONDS)


def test_a_full_pool_answers_503_quickly_and_the_site_recovers_by_itself(shop_page):
    size = settings.DATABASE_POOL["size"] + settings.DATABASE_POOL["overflow"]
    aliases = ["default", *settings.REPLICA_ALIASES]
    busy_for = settings.DATABASE_POOL["timeout"] + 2 * MARGIN + 4
    holders = [
        threading.Thread(target=hold, args=(alias, busy_for), daemon=True)
        for alias in aliases
        for _ in range(size)
    ]
    for holder in holders:
        holder.start()
    # Every server connection of every pool busy (the overflow is lent after POOL_OVERFLOW_WAIT).
    poll(lambda: all(server_connections(alias) >= size for alias in aliases), timeout=15, what="pools full")
    log = RequestLog("every pool full")
    client = Client(raise_request_exception=False)
    with ThreadPoolExecutor(max_workers=3) as visitors:
        for _ in range(3):
            visitors.submit(log.timed, "category", lambda: client.get(shop_page), expect=(503,))
    for holder in holders:
        holder.join(timeout=busy_for + 10)

    print(f"\n{log.summary()}")
    assert not log.failed, log.failed
    assert all(outage(entry.response) for entry in log.requests)
    assert log.slowest.seconds < settings.DATABASE_POOL["timeout"] + 1, log.summary()
    # The load is over: the next visitors are served, without anything restarted.
    poll(lambda: Client().get(shop_page).status_code == 200, timeout=20, what="site serving again")


def test_each_connection_says_who_it_is_on_the_server_behind_the_pooler():
    for alias in ["default", *settings.REPLICA_ALIASES]:
        with connections[alias].cursor() as cursor:
            # The server connection the pooler lends carries the client's application_name.
            cursor.execute("SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()")
            assert cursor.fetchone()[0] == settings.DATABASE_APPLICATION_NAME, alias
    refresh = pooled(application_name="shopsite-refresh")
    try:
        with refresh.cursor() as cursor:
            cursor.execute("SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()")
            assert cursor.fetchone()[0] == "shopsite-refresh"
    finally:
        refresh.rollback()
        refresh.close()
