"""The template tags of the shop's layout ({% load pages %}): the visitor's own parts of a page,
and links reversed once."""

from django import template
from django.utils.safestring import SafeString

from shopsite.caching.page_cache import page_part as visitors_part
from shopsite.links import path_to

register = template.Library()


@register.simple_tag(takes_context=True)
def page_part(context, name: str) -> SafeString:
    """The visitor's own part `name` of the page (PAGE_CACHE_PARTS): `account` or `messages`."""
    return visitors_part(name, context.get("request"))  # none on the 400 and 500 pages


@register.simple_tag
def link(viewname: str, *args) -> str:
    """{% url %} for links repeated on a page (one per product listed): reversed once."""
    return path_to(viewname, *args)
