import json
import os
import subprocess
import sys

import pytest
from django.conf import settings


def test_every_database_alias_has_a_connect_timeout_and_persistent_connections():
    for alias, config in settings.DATABASES.items():
        assert config["OPTIONS"]["connect_timeout"] > 0, alias
        assert config["CONN_MAX_AGE"] > 0, alias
        assert config["CONN_HEALTH_CHECKS"] is True, alias
        assert config["ATOMIC_REQUESTS"] is False, alias


def test_replicas_come_from_the_environment_and_mirror_default_in_tests():
    urls = [url for url in os.environ.get("REPLICA_DATABASE_URLS", "").split(",") if url]
    assert len(settings.REPLICA_ALIASES) == len(urls)
    for alias in settings.REPLICA_ALIASES:
        assert settings.DATABASES[alias]["TEST"]["MIRROR"] == "default"


def test_cache_is_redis_and_ignores_its_outages():
    cache = settings.CACHES["default"]
    assert cache["BACKEND"] == "django_redis.cache.RedisCache"
    assert cache["OPTIONS"]["IGNORE_EXCEPTIONS"] is True
    assert cache["OPTIONS"]["SOCKET_TIMEOUT"] <= 1
    assert settings.DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS is True
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.cached_db"


def test_tests_use_their_own_redis_database():
    assert not settings.CACHES["default"]["LOCATION"].endswith("/0")


def test_user_model_is_custom():
    assert settings.AUTH_USER_MODEL == "accounts.User"


def _settings_of(module: str, **env) -> dict:
    """Load a settings module in a fresh interpreter and return a few of its values."""
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        "print(json.dumps({'apps': settings.INSTALLED_APPS, 'middleware': settings.MIDDLEWARE, "
        "'debug': settings.DEBUG}))"
    )
    environment = {key: value for key, value in os.environ.items() if key not in {"DEBUG", "SECRET_KEY"}}
    environment.update(DJANGO_SETTINGS_MODULE=module, **env)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=True
    )
    return json.loads(result.stdout)


def test_debug_toolbar_only_in_local_settings():
    local = _settings_of("shopsite.settings.local")
    production = _settings_of("shopsite.settings.production", SECRET_KEY="x" * 50, TRUSTED_PROXY_COUNT="1")
    assert "debug_toolbar" in local["apps"]
    assert local["debug"] is True
    assert "debug_toolbar" not in production["apps"]
    assert not any("debug_toolbar" in middleware for middleware in production["middleware"])
    assert production["debug"] is False


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("REPORTS_REFRESH_WORK_MEM", "lots"),
        ("REPORTS_REFRESH_WORK_MEM", "64"),
        ("REPORTS_REFRESH_PARALLEL_WORKERS", "-1"),
    ],
)
def test_a_bad_refresh_setting_stops_start_up_with_a_message_naming_it(variable, value):
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "shopsite.settings.production", variable: value}
    environment["SECRET_KEY"] = "x" * 50
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        capture_output=True,
        text=True,
        env=environment,
    )
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {variable} is {value!r}: " in result.stderr
