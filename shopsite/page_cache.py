"""Whole-page microcache for visitors without cookies.

A visitor with no cookie at all has no session, no cart, no login and no recent write: every
such visitor gets the same page for the same URL, so that page is cached in Redis for a few
seconds, in a cache namespace that writes to the catalog bump. Anyone with a cookie (a cart, a
login, a recent write, a CSRF cookie) gets a freshly rendered page, so nobody ever sees stale data
of their own writes or anything of another user's. What a cookie-less visitor may see late is
what other customers changed: stock levels, for at most PAGE_CACHE_SECONDS.
"""

from __future__ import annotations

import hashlib
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse

from shopsite.cache import versioned_key
from shopsite.timing import count_cache


def cache_page_for_visitors(namespace: str):
    """Serve a GET view from Redis to visitors without cookies, for PAGE_CACHE_SECONDS."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method != "GET" or request.COOKIES or not settings.PAGE_CACHE_SECONDS:
                return view(request, *args, **kwargs)
            path = hashlib.sha1(request.get_full_path().encode()).hexdigest()
            key = versioned_key(namespace, "page", path)
            cached = cache.get(key)
            count_cache(hit=cached is not None)
            if cached is not None:
                content, content_type = cached
                return HttpResponse(content, content_type=content_type)
            response = view(request, *args, **kwargs)
            # Only a plain 200 without a cookie or a CSRF token is the same for every such visitor.
            personal = response.cookies or request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
            if response.status_code == 200 and not personal and not response.streaming:
                cache.set(key, (response.content, response["Content-Type"]), settings.PAGE_CACHE_SECONDS)
            return response

        return wrapper

    return decorator
