"""The parts of every page that are the visitor's own: the header's account links, with the
cart's count, and the messages. The layout shows them with `{% page_part %}`; a page served from
the page cache gets them from here too, built for each visitor (shopsite.caching.page_cache).

Built in Python, not from a template: they are filled into every cached page, where rendering a
template would cost more than reading the page from Redis. They read only the session (from
Redis) and, for the links of a signed-in customer, the user.
"""

from __future__ import annotations

from django.contrib.messages import get_messages
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from accounts.cart import Cart
from shopsite.links import path_to


def account_links(request: HttpRequest | None) -> SafeString:
    """Return the header's links: the cart with its count, then log in and sign up, or the
    customer's orders, account and log out. Without a request, or before the session and auth middleware
    ran (an error page), they are a new visitor's."""
    session = getattr(request, "session", None)
    user = getattr(request, "user", None)
    count = Cart(session).count if session is not None else 0
    badge = format_html(' <span class="badge" aria-label="{} items">{}</span>', count, count) if count else ""
    links = [format_html('<a href="{}">Cart{}</a>', path_to("accounts:cart"), badge)]
    if user is not None and user.is_authenticated:
        links.append(format_html('<a href="{}">Orders</a>', path_to("accounts:orders")))
        links.append(format_html('<a href="{}">Account</a>', path_to("accounts:account")))
        links.append(
            format_html(
                '<form method="post" action="{}" class="inline">'
                '<input type="hidden" name="csrfmiddlewaretoken" value="{}">'
                '<button type="submit" class="link">Log out</button></form>',
                path_to("accounts:logout"),
                get_token(request),
            )
        )
    else:
        links.append(format_html('<a href="{}">Log in</a>', path_to("accounts:login")))
        links.append(format_html('<a href="{}">Sign up</a>', path_to("accounts:signup")))
    return mark_safe("\n        ".join(links))


def messages_list(request: HttpRequest | None) -> SafeString:
    """Return the visitor's messages, marked as shown (empty when there are none, or no request)."""
    if request is None:
        return mark_safe("")
    items = format_html_join(
        "", '<li class="message {}">{}</li>', ((message.tags, message) for message in get_messages(request))
    )
    return format_html('<ul class="messages" role="status">{}</ul>', items) if items else mark_safe("")
