"""Settings for production: base (every server and secret from the environment, the security
headers) plus HTTPS: secure cookies, HSTS and the redirect to https behind the proxy."""

import os

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import TRUSTED_PROXY_COUNT, env

DEBUG = False
# No default: guessed wrong, either clients choose the address their logins are counted under, or
# everyone shares the proxy's and one password spray pauses every customer's login.
if "TRUSTED_PROXY_COUNT" not in os.environ:
    raise ImproperlyConfigured(
        "Set TRUSTED_PROXY_COUNT: the proxies in front of the app (1 behind nginx, 0 when none)"
    )
if TRUSTED_PROXY_COUNT:
    # Only a proxy's word on https is trusted: without one, a client could claim it itself.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# The load balancer probes /healthz over plain HTTP inside the network: a redirect would fail it.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
# Both bind more than this site (every subdomain; browsers' built-in lists, for months): the
# operator opts in. Django's deployment checks would warn while they are off, hence silenced.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]
SESSION_COOKIE_HTTPONLY = True
# Query counts, cache hits and the read route tell outsiders about the servers: on when asked.
SERVER_TIMING = env.bool("SERVER_TIMING", default=False)
# CSRF_COOKIE_HTTPONLY stays False: forms carry the token in the page, so hiding the cookie from
# scripts protects nothing (Django's docs say as much) and would only break a future fetch().
