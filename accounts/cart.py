"""The shopping cart: product ids and quantities kept in the visitor's session, nothing else.

Prices, names and stock are never stored here: they are read from the database each time the cart
is shown or checked out, so the cart always shows what the shop sells now.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.contrib.sessions.backends.base import SessionBase

SESSION_KEY = "cart"
MAX_QUANTITY = 99
# Bounds the cart page's one query and the checkout's row locks.
MAX_LINES = 50


class Cart:
    """A view of `session["cart"]`, a dict {str(product_id): quantity} (JSON keys are strings)."""

    def __init__(self, session: SessionBase):
        self.session = session

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

    def _save(self, lines: dict[int, int]) -> None:
        # Assigning a new dict marks the session modified; mutating the stored one would not.
        self.session[SESSION_KEY] = {str(product_id): quantity for product_id, quantity in lines.items()}
