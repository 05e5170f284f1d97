"""Template context shared by every page."""

from django.http import HttpRequest

from accounts.cart import Cart


def cart(request: HttpRequest) -> dict[str, int]:
    """Return `cart_count`, the number of items in the visitor's cart, read from the session only."""
    session = getattr(request, "session", None)
    return {"cart_count": Cart(session).count if session is not None else 0}
