"""Settings for production: base (every server and secret from the environment, the security
headers) plus HTTPS: secure cookies, HSTS and the redirect to https behind the proxy."""

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# The load balancer probes /healthz over plain HTTP inside the network: a redirect would fail it.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_HTTPONLY = True
# CSRF_COOKIE_HTTPONLY stays False: forms carry the token in the page, so hiding the cookie from
# scripts protects nothing (Django's docs say as much) and would only break a future fetch().
