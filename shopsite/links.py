"""Links to the shop's pages, reversed once: a category page links to every product it lists.

Django's reverse() takes tens of microseconds (each call reads the URLconf, the script prefix and
the language from thread-locals), which adds up to milliseconds on a page of product cards. A
link depends only on the view, its arguments, the URLconf and the script prefix, so it is
remembered under those, for as many links as the shop has pages.
"""

from __future__ import annotations

from functools import lru_cache

from django.urls import get_script_prefix, get_urlconf, reverse

LINKS_REMEMBERED = 100_000  # a few MB for a catalog of 100,000 products


def path_to(viewname: str, *args: str | int) -> str:
    """Return reverse(viewname, args=args), remembered."""
    return _reversed(viewname, args, get_urlconf(), get_script_prefix())


@lru_cache(maxsize=LINKS_REMEMBERED)
def _reversed(viewname: str, args: tuple, urlconf: str | None, prefix: str) -> str:
    return reverse(viewname, args=args, urlconf=urlconf)
