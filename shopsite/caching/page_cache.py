"""Whole-page microcache for visitors without cookies.

A visitor with no cookie at all has no session, no cart, no login and no recent write: every
such visitor gets the same page for the same URL, so that page is cached in Redis for a few
seconds, in a cache namespace that writes to the catalog bump (a form's CSRF token is put in
per visitor when the page is served). Anyone with a cookie (a cart, a login, a recent write, a
CSRF cookie) gets a freshly rendered page, so nobody ever sees stale data
of their own writes or anything of another user's. What a cookie-less visitor may see late is
what other customers changed: stock levels, for at most PAGE_CACHE_SECONDS.
"""

from __future__ import annotations

import re
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.middleware.csrf import get_token

from shopsite.caching.keys import cache_key
from shopsite.caching.versioned import (
    MISSING,
    namespace_version,
    namespace_version_and_value,
    value_of_version,
)
from shopsite.db.timing import count_cache

# A form's CSRF token is the one per-visitor part of such a page: it is cached as a placeholder
# and each visitor gets a token of their own (and the cookie that goes with it) when it is served.
CSRF_INPUT = re.compile(rb'(name="csrfmiddlewaretoken" value=")[A-Za-z0-9]+(")')
CSRF_PLACEHOLDER = b"__csrf_token__"


def cache_page_for_visitors(namespace: str):
    """Serve a GET view from Redis to visitors without cookies, for PAGE_CACHE_SECONDS."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method != "GET" or request.COOKIES or not settings.PAGE_CACHE_SECONDS:
                return view(request, *args, **kwargs)
            key = cache_key(namespace, "page", request.get_full_path())
            # One round trip for the namespace's version and the page, which records the version
            # it was rendered in: a page of an older version is a miss.
            version, entry = namespace_version_and_value(namespace, key)
            cached = value_of_version(entry, version)
            count_cache(hit=cached is not MISSING)
            if cached is not MISSING:
                content, content_type = cached
                if CSRF_PLACEHOLDER in content:
                    content = content.replace(CSRF_PLACEHOLDER, get_token(request).encode())
                return HttpResponse(content, content_type=content_type)
            response = view(request, *args, **kwargs)
            # Only a plain 200 setting no cookie of its own is the same for every such visitor.
            if response.status_code == 200 and not response.cookies and not response.streaming:
                content = CSRF_INPUT.sub(rb"\1" + CSRF_PLACEHOLDER + rb"\2", response.content)
                if version is None:
                    version = namespace_version(namespace)
                if version is not None:  # None: Redis does not answer
                    entry = (version, (content, response["Content-Type"]))
                    cache.set(key, entry, settings.PAGE_CACHE_SECONDS)
            return response

        return wrapper

    return decorator
