"""What the checkout page showed, signed into its form: the customer pays that, or is asked again.

The page carries a confirmation: a one-time token (stored with the order as its
`checkout_token`), the user it was shown to, each line's product, name, quantity and unit price,
and the total. Signed with `django.core.signing` rather than kept on the server: showing the page
writes nothing, and two tabs hold two confirmations without either overwriting the other. The
POST checks the signature and that the cart still holds those lines; `order_place` checks, with
the products locked, that they still cost that.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core import signing

from accounts.cart import MAX_LINES, MAX_QUANTITY
from accounts.selectors import CartSummary
from shopsite.money import money

SALT = "accounts.checkout.confirmation"


class ConfirmationInvalid(ValueError):
    """A confirmation that was not signed by this shop, or not in the shape it signs."""


@dataclass(frozen=True)
class ShownLine:
    """One line as the checkout page showed it."""

    name: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class Confirmation:
    """The checkout page's figures, which a submission of that page agrees to pay."""

    token: uuid.UUID
    user_id: int
    lines: dict[int, ShownLine]  # by product id
    total: Decimal

    @property
    def quantities(self) -> dict[int, int]:
        """Return {product id: quantity}, as the cart holds its lines."""
        return {product_id: line.quantity for product_id, line in self.lines.items()}

    @property
    def prices(self) -> dict[int, Decimal]:
        """Return {product id: unit price shown}."""
        return {product_id: line.unit_price for product_id, line in self.lines.items()}

    def signed(self) -> str:
        """Return the confirmation as the page's hidden field holds it: compact, signed, URL-safe."""
        lines = [[pk, line.name, line.quantity, str(line.unit_price)] for pk, line in self.lines.items()]
        payload = {"token": self.token.hex, "user": self.user_id, "lines": lines, "total": str(self.total)}
        return signing.dumps(payload, salt=SALT, compress=True)

    @classmethod
    def from_signed(cls, value: str) -> Confirmation:
        """Return the confirmation `value` holds; raise ConfirmationInvalid if it is forged or malformed."""
        try:
            payload = signing.loads(value, salt=SALT)
            lines = {
                _positive_int(pk): ShownLine(str(name), _quantity(quantity), _price(price))
                for pk, name, quantity, price in payload["lines"]
            }
            confirmation = cls(
                token=uuid.UUID(hex=payload["token"]),
                user_id=_positive_int(payload["user"]),
                lines=lines,
                total=_price(payload["total"]),
            )
        except (signing.BadSignature, KeyError, TypeError, ValueError, InvalidOperation) as error:
            raise ConfirmationInvalid(str(error)) from error
        if not 0 < len(lines) <= MAX_LINES or confirmation.total != _total(lines):
            raise ConfirmationInvalid("no lines, too many, or a total that is not their sum")
        return confirmation


def confirmation_for(*, summary: CartSummary, user_id: int) -> Confirmation:
    """Return a new confirmation, with a new token, of the checkout page showing `summary`."""
    lines = {
        line.product_id: ShownLine(line.name, line.quantity, line.product.price) for line in summary.lines
    }
    return Confirmation(token=uuid.uuid4(), user_id=user_id, lines=lines, total=_total(lines))


def confirmation_changes(*, confirmation: Confirmation, summary: CartSummary) -> list[str]:
    """Return a sentence for each way the cart now (`summary`) differs from what was confirmed."""
    now = {line.product_id: line for line in summary.lines}
    changes = []
    for product_id, shown in confirmation.lines.items():
        line = now.get(product_id)
        if line is None:
            changes.append(f"{shown.name} is no longer in your cart.")
            continue
        if line.quantity != shown.quantity:
            changes.append(f"{line.name}: you now have {line.quantity}, not {shown.quantity}.")
        if line.product is not None and line.product.price != shown.unit_price:
            went = "up" if line.product.price > shown.unit_price else "down"
            changes.append(
                f"The price of {line.name} went {went} from {money(shown.unit_price)}"
                f" to {money(line.product.price)}."
            )
    changes += [
        f"{line.name} was added to your cart." for pk, line in now.items() if pk not in confirmation.lines
    ]
    return changes


def _total(lines: dict[int, ShownLine]) -> Decimal:
    return sum((line.unit_price * line.quantity for line in lines.values()), Decimal("0.00"))


def _positive_int(value: object) -> int:
    if type(value) is not int or value < 1:
        raise ValueError(f"not a positive integer: {value!r}")
    return value


def _quantity(value: object) -> int:
    if not 1 <= _positive_int(value) <= MAX_QUANTITY:
        raise ValueError(f"not a quantity: {value!r}")
    return value


def _price(value: object) -> Decimal:
    price = Decimal(str(value))
    if not price.is_finite() or price < 0:
        raise ValueError(f"not a price: {value!r}")
    return price
