"""Settings shared by every environment. Everything that differs comes from the environment."""

import os
import re
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parents[2]

env = environ.Env()

SECRET_KEY = env("SECRET_KEY")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "axes",
    "csp",
    "catalog",
    "accounts",
    "reports",
]

MIDDLEWARE = [
    # First, so that it times every query of the request, the session's and the router's too.
    "shopsite.db.timing.QueryTimingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before WhiteNoise, which answers static files itself: every response carries the policy.
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before the session middleware, so that saving the session counts as the request's write.
    "shopsite.db.routing.ReplicaRoutingMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Admin turns query parameters into filters without a form: one it cannot take is a 400, not a 500.
    "shopsite.admin.AdminQueryMiddleware",
    # After auth and sessions: turns a login refused by axes into the lockout page (429).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "shopsite.urls"
WSGI_APPLICATION = "shopsite.wsgi.application"
ASGI_APPLICATION = "shopsite.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.cart",
            ],
            "libraries": {"pages": "shopsite.page_tags"},
            # {{ amount|money }} in every template, the shop's and admin's, without a {% load %}.
            "builtins": ["shopsite.money_tags"],
        },
    },
]

# --- Databases: the primary is `default`; replicas are `replica`, `replica_2`, ... -------------

DATABASE_CONNECT_TIMEOUT = env.int("DATABASE_CONNECT_TIMEOUT", default=3)
# A replica that does not answer quickly is skipped rather than waited for (libpq's minimum is 2).
REPLICA_CONNECT_TIMEOUT = env.int("REPLICA_CONNECT_TIMEOUT", default=2)
# "pgbouncer": DATABASE_URL and REPLICA_DATABASE_URLS lead to PgBouncers in transaction pooling
# mode (the local stack's default). They set the timeouts below on every server connection
# (connect_query in shopsite/deploy/pgbouncer.ini), since a pooler refuses them as startup options.
DATABASE_POOLER = env.str("DATABASE_POOLER", default="")
if DATABASE_POOLER not in {"", "pgbouncer"}:
    raise ImproperlyConfigured(f"DATABASE_POOLER is {DATABASE_POOLER!r}: 'pgbouncer' or empty")
# The limits of every connection, in milliseconds: a web request's statement, a wait for a lock,
# a transaction left open. Commands that run long raise them for their own transactions
# (shopsite.db.timeouts).
DATABASE_STATEMENT_TIMEOUT_MS = env.int("DATABASE_STATEMENT_TIMEOUT_MS", default=5000)
DATABASE_LOCK_TIMEOUT_MS = env.int("DATABASE_LOCK_TIMEOUT_MS", default=3000)
DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS = env.int("DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS", default=10000)
COMMAND_STATEMENT_TIMEOUT_MS = env.int("COMMAND_STATEMENT_TIMEOUT_MS", default=60 * 60 * 1000)
COMMAND_LOCK_TIMEOUT_MS = env.int("COMMAND_LOCK_TIMEOUT_MS", default=60 * 1000)
# Who each connection is, in pg_stat_activity and in PgBouncer's SHOW CLIENTS: manage.py names
# its command (shopsite-refresh, shopsite-import, shopsite-seed, ...); anything else is the web.
DATABASE_APPLICATION_NAME = env.str("DATABASE_APPLICATION_NAME", default="shopsite-web")
# manage.py migrate and dbshell connect to PostgreSQL itself when these are set (a session of
# their own, no statement limit: an index on a big table may take minutes; the lock limit stays,
# so a migration stuck behind live traffic gives up rather than queueing every request behind it).
# Their server (host, port, user, password) is used, with DATABASE_URL's database name: pointed
# at another database (a benchmark's, a test's), a migration still migrates that one.
DATABASE_DIRECT_URL = env.str("DATABASE_DIRECT_URL", default="")
REPLICA_DIRECT_URLS = env.list("REPLICA_DIRECT_URLS", default=[])
DATABASE_SESSION = env.bool("DATABASE_SESSION", default=False) and bool(DATABASE_DIRECT_URL)
# A replica's pooler makes a client wait at most this long for a server connection (seconds), as
# a replica that does not answer in REPLICA_CONNECT_TIMEOUT is skipped (shopsite.db.replicas).
REPLICA_POOL_TIMEOUT = env.int("REPLICA_POOL_TIMEOUT", default=2)
# Each pooler's admin console (SHOW POOLS, SHOW CONFIG), primary first: what the stack started.
POOLER_ADMIN_URLS = env.list("POOLER_ADMIN_URLS", default=[])
# The pool behind each PgBouncer: the local stack configures it from these same variables (the seeds'
# QueuePool settings); tests compare what the poolers run with these.
DATABASE_POOL = {
    "size": env.int("POOL_SIZE", default=20),
    "overflow": env.int("POOL_OVERFLOW", default=10),
    "overflow_wait": env.int("POOL_OVERFLOW_WAIT", default=1),
    "timeout": env.int("POOL_TIMEOUT", default=5),
    "recycle": env.int("POOL_RECYCLE", default=3600),
    "pre_ping": env.bool("POOL_PRE_PING", default=True),
}
# The async pool of each alias, per ASGI worker (shopsite.db.async_pool): the live endpoints'
# connections, opened on first use. A request that finds none free within `timeout` seconds
# gets the 503 page; a connection older than `recycle` seconds is replaced before use.
ASYNC_POOL = {
    "size": env.int("ASYNC_POOL_SIZE", default=10),
    "timeout": env.float("ASYNC_POOL_TIMEOUT", default=1.0),
    "recycle": env.float("ASYNC_POOL_RECYCLE", default=3600.0),
    # Checked before each use, as CONN_HEALTH_CHECKS checks Django's: a connection a pooler restart
    # closed is replaced, not failed on (which would take its replica out of rotation).
    "check": env.bool("ASYNC_POOL_CHECK", default=True),
}


def database(url: str, *, connect_timeout: int) -> dict:
    """Return a DATABASES entry for a URL: persistent, health-checked, with every timeout."""
    config = env.db_url_config(url)
    # Persistent: a connection to a pooler is cheap to keep and the pooler shares the servers'.
    config["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    config["CONN_HEALTH_CHECKS"] = True
    # Off: a request-wide transaction would pin every read to the primary; services open their own.
    config["ATOMIC_REQUESTS"] = False
    # Named cursors live in a session; a transaction pooler may run the next fetch on another
    # server connection. Off everywhere, pooled or not: exports page by key instead.
    config["DISABLE_SERVER_SIDE_CURSORS"] = True
    options = config.setdefault("OPTIONS", {})
    options["connect_timeout"] = connect_timeout
    options["application_name"] = DATABASE_APPLICATION_NAME
    if not DATABASE_POOLER or DATABASE_SESSION:
        statement = 0 if DATABASE_SESSION else DATABASE_STATEMENT_TIMEOUT_MS
        options["options"] = (
            f"-c statement_timeout={statement} -c lock_timeout={DATABASE_LOCK_TIMEOUT_MS} "
            f"-c idle_in_transaction_session_timeout={DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS}"
        )
    return config


def same_database(direct_url: str, url: str) -> str:
    """Return the direct URL's server with the database name of `url`."""
    return direct_url.rsplit("/", 1)[0] + "/" + url.rsplit("/", 1)[1]


_replica_urls = env.list("REPLICA_DATABASE_URLS", default=[])
if DATABASE_SESSION:
    DATABASES = {
        "default": database(
            same_database(DATABASE_DIRECT_URL, env("DATABASE_URL")), connect_timeout=DATABASE_CONNECT_TIMEOUT
        )
    }
    # Replicas without a direct URL are left out: migrate and dbshell read none.
    _replica_urls = [
        same_database(direct, url) for direct, url in zip(REPLICA_DIRECT_URLS, _replica_urls, strict=False)
    ]
else:
    DATABASES = {"default": database(env("DATABASE_URL"), connect_timeout=DATABASE_CONNECT_TIMEOUT)}
# Behind a pooler, the router's health checks ask each replica's server itself (shopsite.db.replicas).
REPLICA_PROBES: dict[str, dict] = {}
for number, url in enumerate(_replica_urls, start=1):
    alias = "replica" if number == 1 else f"replica_{number}"
    DATABASES[alias] = database(url, connect_timeout=REPLICA_CONNECT_TIMEOUT)
    if DATABASE_POOLER and not DATABASE_SESSION and number <= len(REPLICA_DIRECT_URLS):
        direct = env.db_url_config(REPLICA_DIRECT_URLS[number - 1])
        REPLICA_PROBES[alias] = {"host": direct["HOST"], "port": direct["PORT"]}
REPLICA_ALIASES = [alias for alias in DATABASES if alias != "default"]

# --- Routing: writes to the primary, reads to replicas (shopsite.db.router) -----------------------

DATABASE_ROUTERS = ["shopsite.db.router.PrimaryReplicaRouter"]
SLOW_QUERY_MS = env.int("SLOW_QUERY_MS", default=200)  # slower queries are logged by shopsite.slow_queries
# Each command run through manage.py, once it has ended, is handed to this function
# (shopsite.db.commands), which keeps it for the database health page; "" records none.
COMMAND_RUN_RECORDER = "reports.command_runs.command_run_record"
# The Server-Timing header (queries per alias, cache hits, the read route); production turns it off.
SERVER_TIMING = env.bool("SERVER_TIMING", default=True)
# /healthz tells everyone up or down; the servers' state goes to staff and to this token ("": none).
HEALTHZ_TOKEN = env.str("HEALTHZ_TOKEN", default="")
REPLICA_CHECK_INTERVAL = env.float("REPLICA_CHECK_INTERVAL", default=2.0)  # seconds between checks
REPLICA_BACKOFF_SECONDS = env.float("REPLICA_BACKOFF_SECONDS", default=10.0)  # out of rotation after a fault
REPLICA_MAX_LAG_SECONDS = env.float("REPLICA_MAX_LAG_SECONDS", default=30.0)
REPLICA_MAX_LAG_BYTES = env.int("REPLICA_MAX_LAG_BYTES", default=64 * 1024 * 1024)
READ_YOUR_WRITES_COOKIE = "shopsite_rw"
READ_YOUR_WRITES_SECONDS = env.int("READ_YOUR_WRITES_SECONDS", default=300)  # how long a write pins reads
ADMIN_URL_PREFIX = "/admin/"
# A database that cannot be reached answers 503 with this Retry-After (shopsite.db.outage).
OUTAGE_RETRY_AFTER_SECONDS = env.int("OUTAGE_RETRY_AFTER_SECONDS", default=30)
BENCHMARK_HELLO_VIEW = env.bool("BENCHMARK_HELLO_VIEW", default=False)  # /bench/hello for bench/web.py
# The report refresh's own transaction (reports.services): parallel workers per query (0: one core,
# the others left to checkouts) and the memory a sort or hash takes before spilling (64MB, 1GB).
REPORTS_REFRESH_PARALLEL_WORKERS = env.int("REPORTS_REFRESH_PARALLEL_WORKERS", default=0)
REPORTS_REFRESH_WORK_MEM = env.str("REPORTS_REFRESH_WORK_MEM", default="64MB")
# Days before today each refresh counts again before closing them (changed orders' days anyway).
REPORTS_RECENT_DAYS = env.int("REPORTS_RECENT_DAYS", default=2)
# A cold dashboard reads its blocks at once over the async pools, where they are open (ASGI).
DASHBOARD_CONCURRENT_READS = env.bool("DASHBOARD_CONCURRENT_READS", default=True)
# How long a dashboard block that includes today stays cached (an order placed or changed renews it).
DASHBOARD_LIVE_SECONDS = env.int("DASHBOARD_LIVE_SECONDS", default=30)
for _name, _least in (("REPORTS_RECENT_DAYS", 1), ("REPORTS_REFRESH_PARALLEL_WORKERS", 0)):
    if globals()[_name] < _least:
        raise ImproperlyConfigured(f"{_name} is '{globals()[_name]}': {_least} or more")
if not re.fullmatch(r"\d+(kB|MB|GB|TB)", REPORTS_REFRESH_WORK_MEM):
    raise ImproperlyConfigured(f"REPORTS_REFRESH_WORK_MEM is {REPORTS_REFRESH_WORK_MEM!r}: a size, 64MB")
# Rows per page of a CSV export (shopsite.admin.ChangelistExport): one query each, and the memory
# an export holds at once, whatever its size.
CSV_CHUNK_SIZE = 2_000
# Home, category and product pages come from Redis this long (0: never), with each visitor's own
# parts filled in (shopsite.caching.page_cache): these, built per request for every page.
PAGE_CACHE_SECONDS = env.int("PAGE_CACHE_SECONDS", default=10)
PAGE_CACHE_PARTS = {
    "account": "accounts.page_parts.account_links",
    "messages": "accounts.page_parts.messages_list",
}

# Paths answered in front of Django (shopsite.live): each names its async endpoint and its sync twin.
LIVE_ENDPOINTS = {
    "/live/stock": ("catalog.live.stock", "catalog.live.stock_sync"),
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache: Redis through django-redis; an outage is logged and the site runs from the database --

REDIS_URL = env("REDIS_URL")
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "shopsite",
        "TIMEOUT": 300,
        "OPTIONS": {
            # django-redis's client with a circuit breaker: a Redis that keeps failing is skipped.
            "CLIENT_CLASS": "shopsite.caching.redis_client.CircuitBreakerClient",
            "SOCKET_CONNECT_TIMEOUT": env.float("REDIS_CONNECT_TIMEOUT", default=0.25),
            "SOCKET_TIMEOUT": env.float("REDIS_SOCKET_TIMEOUT", default=0.25),
            # After this many connection errors in a row, skip Redis for the cool-off (seconds).
            "CIRCUIT_BREAKER_FAILURES": env.int("REDIS_CIRCUIT_FAILURES", default=3),
            "CIRCUIT_BREAKER_COOLOFF": env.float("REDIS_CIRCUIT_COOLOFF", default=5.0),
            "IGNORE_EXCEPTIONS": True,
        },
    }
}
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
DJANGO_REDIS_LOGGER = "shopsite.cache"

# cached_db: sessions are read from Redis but written to the database too, so a Redis outage
# logs nobody out.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- Auth -----------------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "catalog:home"
LOGOUT_REDIRECT_URL = "catalog:home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First: a locked-out login is refused before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "accounts.backends.CustomerEmailBackend",  # a customer's email logs in too, where no username did
]
# Login throttling (django-axes), shop and admin alike. Failures are kept in PostgreSQL, not
# Redis, so that the limit holds while Redis is down; the handler gives each parameter its limit.
AXES_HANDLER = "accounts.throttling.LoginThrottleHandler"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
# Higher than a username's: customers behind one office or mobile network share an address.
AXES_ADDRESS_FAILURE_LIMIT = env.int("AXES_ADDRESS_FAILURE_LIMIT", default=20)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
# Username and address together: an attacker guessing one account from one address is stopped,
# while the account's owner elsewhere and other users behind the same address can still log in.
# Never the username alone, or anyone could lock any customer out. The address alone, across
# usernames, stops one password tried on many accounts (password spraying).
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], ["ip_address"]]
AXES_CLIENT_IP_CALLABLE = "accounts.throttling.client_address"
# Proxies in front of the app that append the address they saw to X-Forwarded-For (nginx: 1).
# 0: clients connect directly, the address is REMOTE_ADDR and forwarded headers are ignored.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured(f"TRUSTED_PROXY_COUNT is '{TRUSTED_PROXY_COUNT}': 0 or more")
if min(AXES_FAILURE_LIMIT, AXES_ADDRESS_FAILURE_LIMIT) < 1:
    raise ImproperlyConfigured("AXES_FAILURE_LIMIT and AXES_ADDRESS_FAILURE_LIMIT must be 1 or more")
AXES_RESET_ON_SUCCESS = True  # a typo or two before a good login do not count against the next time
AXES_USERNAME_CALLABLE = "accounts.throttling.lockout_username"
AXES_LOCKOUT_TEMPLATE = "registration/lockout.html"
AXES_HTTP_RESPONSE_CODE = 429

# --- Security headers (production.py adds HTTPS: HSTS, secure cookies, SSL redirect) --------

X_FRAME_OPTIONS = "DENY"  # no page of the shop or the admin is meant to be framed
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# A form posted with an expired or missing CSRF token: the shop's 403 page, saying what to do.
CSRF_FAILURE_VIEW = "shopsite.errors.csrf_failure"
# The shop loads nothing from elsewhere and runs no inline script or style (django-csp).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "img-src": [SELF, "data:"],
        "style-src": [SELF],
        "script-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- Email (README, "Settings"): the mail server is EMAIL_URL, smtp+tls://user:password@host:587 --
_email = env.email_url_config(env.str("EMAIL_URL", default="smtp://localhost:25"))  # Django's default
globals().update({name: value for name, value in _email.items() if value not in (None, "")})
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=5)  # seconds; Django would wait for a mail server forever
DEFAULT_FROM_EMAIL = SERVER_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="shopsite <shop@localhost>")
SHOP_URL = env.str("SHOP_URL", default="http://127.0.0.1:8000")  # what links in order emails start with

# Shown before every amount of money (shopsite.money: `$1,234.56`). Read as it is: django-environ
# would take a value starting with "$" for the name of another variable.
CURRENCY_SYMBOL = os.environ.get("CURRENCY_SYMBOL", "$")

# --- Internationalisation and static files --------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "shopsite" / "static"]
STATIC_ROOT = BASE_DIR / "var" / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Uploaded files: products' pictures and their thumbnails (catalog/pictures.py) ------------
# Written and named through STORAGES["default"]; nginx serves MEDIA_URL from MEDIA_ROOT in
# production (shopsite/deploy/nginx.conf), with a year's cache: every name holds its content's hash.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "var" / "media")
MEDIA_URL = env.str("MEDIA_URL", default="/media/")
MEDIA_HOST = re.match(r"(https?:)?//[^/]+", MEDIA_URL)
if MEDIA_HOST:  # pictures from another host (a CDN): the policy lets pages show them
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["img-src"].append(MEDIA_HOST[0])
# Django serves MEDIA_URL itself only where nothing else does: `make run` and the tests.
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=False)

# --- Logging: everything to stderr, where runserver, gunicorn and systemd collect it ---------

LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"one_line_warning": {"()": "shopsite.errors.OneLineWarning"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        # Requests refused as they should be (a Host not in ALLOWED_HOSTS, too many fields, too
        # large a body) are a client's doing, not an error of the shop: one line, no traceback.
        **{
            f"django.security.{refusal}": {"filters": ["one_line_warning"]}
            for refusal in ("DisallowedHost", "TooManyFieldsSent", "TooManyFilesSent", "RequestDataTooBig")
        },
        "shopsite": {"level": LOG_LEVEL},
        "catalog": {"level": LOG_LEVEL},
        "accounts": {"level": LOG_LEVEL},
        "reports": {"level": LOG_LEVEL},
    },
}
