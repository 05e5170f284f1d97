"""Settings for the test suite: the local stack's servers, their own Redis database, fast hashing."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import environ

environ.Env.read_env(Path(__file__).resolve().parents[2] / "var" / "stack.env")
os.environ.setdefault("SECRET_KEY", "test-only-not-secret")

from .base import *  # noqa: E402,F403
from .base import CACHES, DATABASES, INSTALLED_APPS, MIDDLEWARE, REDIS_URL, env  # noqa: E402

# Ordinary tests run inside a transaction on `default`; replicas mirror it (same test database
# name, on the real replica servers). Tests of the replica itself live in tests/integration/.
for alias in DATABASES:
    if alias != "default":
        DATABASES[alias]["TEST"] = {"MIRROR": "default"}
    # Test databases are dropped even while PgBouncer holds connections to them.
    DATABASES[alias]["ENGINE"] = "shopsite.db.backend"
# Two test runs on one stack (two checkouts, or a run beside a benchmark) each need their own.
if env("TEST_DATABASE_NAME", default=""):
    DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME")}


def _redis_test_url(url: str) -> str:
    """Return the URL of the test run's own Redis database: one per xdist worker, flushed per test."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    number = env.int("REDIS_TEST_DB", default=15) - int(worker or 0)
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{number}"))


CACHES["default"]["LOCATION"] = _redis_test_url(REDIS_URL)
CACHES["default"]["KEY_PREFIX"] = "shopsite-test"

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only
# Off: the concurrent reads use connections of their own, which do not see what a test's
# transaction wrote; tests/reports/test_concurrent_dashboard.py turns them on, committing.
DASHBOARD_CONCURRENT_READS = False
PAGE_CACHE_SECONDS = 0  # pages are rendered in tests; tests/test_page_cache.py turns it on

# django-zeal: any N+1 query pattern in a test or a request raises.
INSTALLED_APPS = [*INSTALLED_APPS, "zeal"]
MIDDLEWARE = [*MIDDLEWARE, "zeal.middleware.zeal_middleware"]
ZEAL_RAISE = True
ZEAL_SHOW_ALL_CALLERS = True

STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
# Files looked up per request instead of every static file scanned per test client (18 s a run).
WHITENOISE_AUTOREFRESH = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Pictures a test run writes: a folder of each test process, deleted when it ends; tests that
# count the files written point MEDIA_ROOT at a folder of their own. Served by Django, as in `make run`.
MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="shopsite-test-media-"))
atexit.register(shutil.rmtree, MEDIA_ROOT, ignore_errors=True)
SERVE_MEDIA = True
