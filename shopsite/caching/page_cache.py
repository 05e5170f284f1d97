"""Whole-page microcache: a page from Redis in one round trip, with the visitor's own parts put in.

A cached page is the page as rendered for nobody in particular, with a placeholder where each
visitor's own parts go (PAGE_CACHE_PARTS: the header's cart count and account links, the
messages) and where each form's CSRF token goes. Serving it fills the placeholders in for the
visitor who asked, so:
- a visitor with no session and no messages (no cookie at all, only the CSRF cookie, or cookies
  the site never reads) gets the cached page with a CSRF token of their own: nothing else to read;
- a visitor with a session (a cart, a login) or a message gets the same page with their own parts
  filled in: the session (from Redis) and, signed in, the user (one query) are all they cost;
- a visitor who must see their own writes gets a freshly rendered page: one whose read-your-writes
  cookie is valid (shopsite.db.routing), or who placed an order in the last
  PAGE_CACHE_SECONDS + REPLICA_MAX_LAG_SECONDS (`show_fresh_pages`), for whom a page cached before
  the order, or rendered from a replica that had not replayed it yet, would show the stock before it.
Every page stored is rendered for nobody: on a miss, a visitor with a session has the page rendered
for a copy of their request without them (no session, user, messages or their cookies), stored,
then filled in with their parts, so nothing of anyone's is ever in a cached page, and visitors
with sessions refill the cache as others do. What others see late is what other customers
changed, stock levels, for at most PAGE_CACHE_SECONDS; a catalog write bumps the namespace and
every page with it.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from contextvars import ContextVar
from functools import cache, wraps
from importlib import import_module

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage import default_storage
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import cache as redis_cache
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils.module_loading import import_string
from django.utils.safestring import SafeString, mark_safe

from shopsite.caching.keys import cache_key
from shopsite.caching.versioned import (
    MISSING,
    namespace_version,
    namespace_version_and_value,
    value_of_version,
)
from shopsite.db.router import current_route
from shopsite.db.timing import count_cache

# A form's CSRF token is cached as this placeholder; each visitor gets a token of their own (and
# the cookie that goes with it) when the page is served. Text from the database is escaped on
# the page ("<" is "&lt;"), so no product name can forge a placeholder.
CSRF_INPUT = re.compile(rb'(name="csrfmiddlewaretoken" value=")[A-Za-z0-9]+(")')
CSRF_PLACEHOLDER = b"<!--csrf-token-->"
PART_PLACEHOLDER = "<!--page-part:{}-->"
# Until when (a Unix time) a customer who just ordered gets freshly rendered pages.
FRESH_PAGES_UNTIL = "_pages_fresh_until"

# Set while a cached view renders: the page parts then leave their placeholders.
_rendering_for_cache: ContextVar[bool] = ContextVar("rendering_for_cache", default=False)


def cache_page_for_visitors(namespace: str):
    """Serve a GET view from Redis for PAGE_CACHE_SECONDS, with each visitor's own parts filled in."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method != "GET" or not settings.PAGE_CACHE_SECONDS:
                return view(request, *args, **kwargs)
            shared = not _has_own_parts(request)
            if _must_see_own_writes(request, has_session=not shared):
                return view(request, *args, **kwargs)
            key = cache_key(namespace, "page", request.get_full_path())
            # One round trip for the namespace's version and the page, which records the version
            # it was rendered in: a page of an older version is a miss.
            version, entry = namespace_version_and_value(namespace, key)
            cached = value_of_version(entry, version)
            count_cache(hit=cached is not MISSING)
            if cached is not MISSING:
                content, content_type = cached
                return HttpResponse(_filled_in(content, request), content_type=content_type)
            token = _rendering_for_cache.set(True)
            try:
                # Rendered for nobody: what is stored cannot hold anything of this visitor's.
                response = view(request if shared else _as_nobody(request), *args, **kwargs)
            finally:
                _rendering_for_cache.reset(token)
            if response.streaming:
                return response
            content = CSRF_INPUT.sub(rb"\1" + CSRF_PLACEHOLDER + rb"\2", response.content)
            # Only a plain 200 setting no cookie of its own is everyone's.
            if response.status_code == 200 and not response.cookies:
                if version is None:
                    version = namespace_version(namespace)
                if version is not None:  # None: Redis does not answer
                    entry = (version, (content, response["Content-Type"]))
                    redis_cache.set(key, entry, settings.PAGE_CACHE_SECONDS)
            response.content = _filled_in(content, request)
            return response

        return wrapper

    return decorator


def page_part(name: str, request: HttpRequest | None) -> SafeString:
    """Return the visitor's part `name` of the page (PAGE_CACHE_PARTS), or its placeholder while
    the page is rendered for the cache: the layout's template tags call this."""
    if _rendering_for_cache.get():
        return mark_safe(PART_PLACEHOLDER.format(name))
    return _parts()[name](request)


def show_fresh_pages(session) -> None:
    """Render every cached page afresh for this customer for a while: they just changed stock
    (an order), which cached pages, and replicas a moment behind, do not show yet."""
    seconds = settings.PAGE_CACHE_SECONDS + settings.REPLICA_MAX_LAG_SECONDS
    session[FRESH_PAGES_UNTIL] = time.time() + seconds


def _has_own_parts(request: HttpRequest) -> bool:
    """Whether the visitor has anything of their own a page shows: a session or a message (the
    messages that do not fit in their cookie are kept in the session)."""
    cookies = request.COOKIES
    return settings.SESSION_COOKIE_NAME in cookies or CookieStorage.cookie_name in cookies


def _must_see_own_writes(request: HttpRequest, *, has_session: bool) -> bool:
    route = current_route.get()
    if route is not None and route.required_lsn is not None:
        return True  # a valid read-your-writes cookie: the cached page may predate the write
    if not has_session:
        return False  # no session, no order: nothing to look up
    until = request.session.get(FRESH_PAGES_UNTIL)
    return isinstance(until, int | float) and time.time() < until


def _as_nobody(request: HttpRequest) -> HttpRequest:
    """Return a copy of the request without its visitor: no session, user, messages or the
    cookies that name them. (Its META is the request's: a CSRF token the page asks for is the
    visitor's, and it is taken out of the page before it is stored.)"""
    nobody = copy.copy(request)
    personal = _personal_cookies()
    nobody.COOKIES = {name: value for name, value in request.COOKIES.items() if name not in personal}
    nobody.session = import_module(settings.SESSION_ENGINE).SessionStore()
    nobody.user = AnonymousUser()
    nobody._messages = default_storage(nobody)
    return nobody


def _personal_cookies() -> set[str]:
    return {settings.SESSION_COOKIE_NAME, CookieStorage.cookie_name, settings.READ_YOUR_WRITES_COOKIE}


def _filled_in(content: bytes, request: HttpRequest) -> bytes:
    """Return a cached page with the visitor's CSRF token and own parts in its placeholders."""
    if CSRF_PLACEHOLDER in content:
        content = content.replace(CSRF_PLACEHOLDER, get_token(request).encode())
    for name, build in _parts().items():
        placeholder = PART_PLACEHOLDER.format(name).encode()
        if placeholder in content:
            content = content.replace(placeholder, build(request).encode())
    return content


@cache
def _parts() -> dict[str, Callable[[HttpRequest], SafeString]]:
    return {name: import_string(path) for name, path in settings.PAGE_CACHE_PARTS.items()}
