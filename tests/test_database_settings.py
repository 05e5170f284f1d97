"""Every connection's limits and name, pooled or not, and where migrate connects: the database
settings as production loads them (shopsite/settings/base.py), each in a fresh interpreter."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings

POOLED = "postgres://shop:pw@127.0.0.1:6432/shop_bench"
REPLICA = "postgres://shop:pw@127.0.0.1:6433/shop_bench"
DIRECT = "postgres://shop:pw@127.0.0.1:5432/shopsite"
REPLICA_DIRECT = "postgres://shop:pw@127.0.0.1:5433/shopsite"

SHOW = (
    "import json, django; from django.conf import settings; "
    "print(json.dumps({'databases': {a: {k: d[k] for k in ('HOST', 'PORT', 'NAME', 'OPTIONS', "
    "'DISABLE_SERVER_SIDE_CURSORS')} for a, d in settings.DATABASES.items()}, "
    "'probes': settings.REPLICA_PROBES}))"
)


def loaded(**env: str) -> dict:
    environment = (
        {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DATABASE_", "REPLICA_", "POOL"))
        }
        | {
            "DJANGO_SETTINGS_MODULE": "shopsite.settings.base",
            "SECRET_KEY": "settings-test-only",
            "DATABASE_URL": POOLED,
            "REPLICA_DATABASE_URLS": REPLICA,
            "REDIS_URL": settings.REDIS_URL,
        }
        | env
    )
    result = subprocess.run(
        [sys.executable, "-c", SHOW], env=environment, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_without_a_pooler_the_timeouts_go_as_connection_options():
    databases = loaded(DATABASE_STATEMENT_TIMEOUT_MS="4000", DATABASE_LOCK_TIMEOUT_MS="1500")["databases"]

    for alias in ("default", "replica"):
        options = databases[alias]["OPTIONS"]
        assert options["options"] == (
            "-c statement_timeout=4000 -c lock_timeout=1500 -c idle_in_transaction_session_timeout=10000"
        )
        assert options["application_name"] == "shopsite-web"
        assert databases[alias]["DISABLE_SERVER_SIDE_CURSORS"] is True


def test_behind_pgbouncer_no_startup_options_and_the_checks_ask_the_replica_server():
    loaded_settings = loaded(
        DATABASE_POOLER="pgbouncer", DATABASE_DIRECT_URL=DIRECT, REPLICA_DIRECT_URLS=REPLICA_DIRECT
    )

    for alias in ("default", "replica"):
        # PgBouncer refuses a startup `options` parameter: its connect_query sets the limits.
        assert "options" not in loaded_settings["databases"][alias]["OPTIONS"]
        assert loaded_settings["databases"][alias]["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert loaded_settings["databases"]["replica"]["PORT"] == 6433  # reads through the pooler
    assert loaded_settings["probes"] == {"replica": {"host": "127.0.0.1", "port": 5433}}


def test_a_session_command_connects_past_the_pooler_to_the_database_it_was_given():
    databases = loaded(
        DATABASE_POOLER="pgbouncer",
        DATABASE_DIRECT_URL=DIRECT,
        REPLICA_DIRECT_URLS=REPLICA_DIRECT,
        DATABASE_SESSION="1",
        DATABASE_APPLICATION_NAME="shopsite-migrate",
    )["databases"]

    assert (databases["default"]["PORT"], databases["default"]["NAME"]) == (5432, "shop_bench")
    assert (databases["replica"]["PORT"], databases["replica"]["NAME"]) == (5433, "shop_bench")
    # No statement limit (an index on a big table takes minutes); the lock limit stays.
    assert databases["default"]["OPTIONS"]["options"].startswith(
        "-c statement_timeout=0 -c lock_timeout=3000"
    )
    assert databases["default"]["OPTIONS"]["application_name"] == "shopsite-migrate"


@pytest.mark.parametrize(
    ("command", "name", "session"),
    [
        ("runserver", "shopsite-web", False),
        ("refresh_reports", "shopsite-refresh", False),
        ("import_products", "shopsite-import", False),
        ("seed_demo", "shopsite-seed", False),
        ("migrate", "shopsite-migrate", True),
        ("check", "shopsite-check", False),
    ],
)
def test_manage_py_names_each_command_and_sends_migrate_past_the_pooler(command, name, session):
    code = (
        f"import os, sys, runpy; sys.argv = ['manage.py', {command!r}]; "
        "import shopsite.db.commands as m; m.execute_from_command_line = lambda argv: None; "
        "runpy.run_path('manage.py', run_name='__main__'); "
        "print(os.environ['DATABASE_APPLICATION_NAME'], os.environ.get('DATABASE_SESSION', ''))"
    )
    environment = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_APPLICATION_NAME", "DATABASE_SESSION"}
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        cwd=settings.BASE_DIR,
    )

    assert result.stdout.split() == [name, *(["1"] if session else [])]
