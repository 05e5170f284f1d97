"""`{{ amount|money }}` in every template (a builtin library: shopsite/settings/base.py TEMPLATES)."""

from django import template

from shopsite.money import money as money_text

register = template.Library()


@register.filter
def money(value) -> str:
    """{{ amount|money }}: `$1,234.56` (shopsite.money); a value that is no amount shows as nothing."""
    try:
        return money_text(value)
    except ValueError:
        return ""
