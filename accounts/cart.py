"""The shopping cart: product ids and quantities kept in the visitor's session, nothing else.

Prices, names and stock are never stored here: they are read from the database each time the cart
is shown or checked out, so the cart always shows what the shop sells now.

Every change goes through `locked_cart`, which serializes one visitor's changes on their
session's row in PostgreSQL. The session is saved whole, so two changes that each read it, change
it and write it back would keep only the last one: eight quick adds from two tabs kept four lines.
Locking the row, rather than moving the lines to a table of their own, keeps what the session
gives for free: showing the cart and its count in every page's header reads no table (the session
comes from Redis), a login carries the cart over to the new session key, a logout drops it, and
expired carts go with their sessions. The price is one `SELECT ... FOR UPDATE` per change, which
waits only for the same visitor's other changes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.http import HttpResponse
from django.utils import timezone
from django.utils.http import http_date

SESSION_KEY = "cart"
MAX_QUANTITY = 99
# Bounds the cart page's one query and the checkout's row locks.
MAX_LINES = 50


class Cart:
    """A view of `session["cart"]`, a dict {str(product_id): quantity} (JSON keys are strings)."""

    def __init__(self, session: SessionBase):
        self.session = session
        self.changed = False
        self.saved_under_lock = False  # by locked_cart: the middleware will not save it, nor set its cookie

    def __len__(self) -> int:
        return len(self.quantities())

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(self.quantities().items())

    def __contains__(self, product_id: int) -> bool:
        return product_id in self.quantities()

    def quantities(self) -> dict[int, int]:
        """Return {product_id: quantity} in the order the products were added, skipping bad entries."""
        stored = self.session.get(SESSION_KEY)
        if not isinstance(stored, dict):
            return {}
        lines = {}
        for key, quantity in stored.items():
            # The session outlives deploys: an entry of another shape is dropped, never trusted.
            well_formed = isinstance(key, str) and key.isdecimal() and type(quantity) is int
            if well_formed and 1 <= quantity <= MAX_QUANTITY:
                lines[int(key)] = quantity
        return lines

    def quantity_of(self, product_id: int) -> int:
        """Return how many of the product are in the cart (0 when none)."""
        return self.quantities().get(product_id, 0)

    @property
    def count(self) -> int:
        """Return the number of items in the cart, the sum of its quantities."""
        return sum(self.quantities().values())

    def set(self, product_id: int, quantity: int) -> None:
        """Set the quantity of a product; 0 removes it."""
        if not 0 <= quantity <= MAX_QUANTITY:
            raise ValueError(f"quantity must be between 0 and {MAX_QUANTITY}, not {quantity}")
        lines = self.quantities()
        if quantity:
            lines[product_id] = quantity
        else:
            lines.pop(product_id, None)
        self._save(lines)

    def remove(self, product_id: int) -> None:
        """Take a product out of the cart."""
        self.set(product_id, 0)

    def clear(self) -> None:
        """Empty the cart."""
        self.session.pop(SESSION_KEY, None)
        self.changed = True

    def _save(self, lines: dict[int, int]) -> None:
        # Assigning a new dict marks the session modified; mutating the stored one would not.
        self.session[SESSION_KEY] = {str(product_id): quantity for product_id, quantity in lines.items()}
        self.changed = True


@contextmanager
def locked_cart(session: SessionBase) -> Iterator[Cart]:
    """Yield the visitor's cart as their session's row holds it, locked until the change is saved.

    Check a change against the cart yielded and make it there: on leaving the block the session is
    saved, if the cart changed, and the transaction ends, letting the visitor's next change in.
    Saved here, under the lock, it is not saved again by the session middleware after the lock
    is gone, which would write back this request's copy over a change made meanwhile; so the
    middleware sets no cookie either, and the view renews it (`session_cookie_renewed`).

    A visitor without a session row yet (a first add) has nothing to lock and no one to race
    with: the cart starts empty and the middleware creates the session, as it always does.
    """
    with transaction.atomic():
        stored = _locked_session_data(session)
        if stored is not None:
            was_modified = session.modified
            # The row is the truth: what this request read from Redis may predate a change it waited for.
            session.clear()
            session.update(stored)
            session.modified = was_modified
        cart = Cart(session)
        yield cart
        if cart.changed and stored is not None:
            session.save()
            session.modified = False
            cart.saved_under_lock = True


def _locked_session_data(session: SessionBase) -> dict | None:
    """Lock the session's row and return its data, or None when it has no live row to lock."""
    if session.session_key is None:
        return None
    row = (
        session.get_model_class()
        .objects.select_for_update()
        .filter(session_key=session.session_key, expire_date__gt=timezone.now())
        .values_list("session_data", flat=True)
        .first()
    )
    return None if row is None else session.decode(row)


def session_cookie_renewed(response: HttpResponse, cart: Cart) -> HttpResponse:
    """Return `response` with the session cookie renewed, as the session middleware renews it
    when it saves, if `cart` was saved by locked_cart (the middleware then saves nothing)."""
    session = cart.session
    if cart.saved_under_lock:
        at_browser_close = session.get_expire_at_browser_close()
        max_age = None if at_browser_close else session.get_expiry_age()
        response.set_cookie(
            settings.SESSION_COOKIE_NAME,
            session.session_key,
            max_age=max_age,
            expires=None if at_browser_close else http_date(time.time() + max_age),
            domain=settings.SESSION_COOKIE_DOMAIN,
            path=settings.SESSION_COOKIE_PATH,
            secure=settings.SESSION_COOKIE_SECURE or None,
            httponly=settings.SESSION_COOKIE_HTTPONLY or None,
            samesite=settings.SESSION_COOKIE_SAMESITE,
        )
    return response
