"""What the checkout page showed, signed into its form: the customer pays that, or is asked again.

The page carries a confirmation: a one-time token (stored with the order as its
`checkout_token`), the user it was shown to, each line's product, name, quantity and unit price,
the lines' total, the delivery options offered with their names and prices, and the addresses
offered, each by its id and a fingerprint of what the page showed of it. Signed with
`django.core.signing` rather than kept on the server: showing the page writes nothing, and two
tabs hold two confirmations without either overwriting the other. The POST chooses one address
and one delivery among those offered; it checks the signature, that the cart still holds those
lines and that the address chosen still reads as shown; `order_place` checks, with the products
locked, that they and the delivery still cost that.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core import signing

from accounts.cart import MAX_LINES, MAX_QUANTITY
from accounts.models import ADDRESS_FIELDS, Address, DeliveryOption
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
class ShownDelivery:
    """A delivery option as the checkout page offered it."""

    name: str
    price: Decimal


@dataclass(frozen=True)
class Confirmation:
    """The checkout page's figures, which a submission of that page agrees to pay."""

    token: uuid.UUID
    user_id: int
    lines: dict[int, ShownLine]  # by product id
    total: Decimal  # of the lines; the delivery chosen comes on top
    deliveries: dict[int, ShownDelivery] = field(default_factory=dict)  # by delivery option id
    addresses: dict[int, str] = field(default_factory=dict)  # address id: its fingerprint as shown

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
        payload = {
            "token": self.token.hex,
            "user": self.user_id,
            "lines": lines,
            "total": str(self.total),
            "deliveries": [[pk, shown.name, str(shown.price)] for pk, shown in self.deliveries.items()],
            "addresses": [[pk, fingerprint] for pk, fingerprint in self.addresses.items()],
        }
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
                deliveries={
                    _positive_int(pk): ShownDelivery(str(name), _price(price))
                    for pk, name, price in payload["deliveries"]
                },
                addresses={_positive_int(pk): str(fingerprint) for pk, fingerprint in payload["addresses"]},
            )
        except (signing.BadSignature, KeyError, TypeError, ValueError, InvalidOperation) as error:
            raise ConfirmationInvalid(str(error)) from error
        if not 0 < len(lines) <= MAX_LINES or confirmation.total != _total(lines):
            raise ConfirmationInvalid("no lines, too many, or a total that is not their sum")
        return confirmation


def confirmation_for(
    *,
    summary: CartSummary,
    user_id: int,
    addresses: Sequence[Address] = (),
    deliveries: Sequence[DeliveryOption] = (),
) -> Confirmation:
    """Return a new confirmation, with a new token, of the checkout page showing `summary` and
    offering `addresses` and `deliveries`."""
    lines = {
        line.product_id: ShownLine(line.name, line.quantity, line.product.price) for line in summary.lines
    }
    return Confirmation(
        token=uuid.uuid4(),
        user_id=user_id,
        lines=lines,
        total=_total(lines),
        deliveries={option.pk: ShownDelivery(option.name, option.price) for option in deliveries},
        addresses={address.pk: address_fingerprint(address) for address in addresses},
    )


def address_fingerprint(address: Address) -> str:
    """Return a short digest of what an address says: it differs once any of its fields does."""
    text = "\x1f".join(getattr(address, name) for name in ADDRESS_FIELDS)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def address_unchanged(*, confirmation: Confirmation, address: Address | None, address_id: int) -> bool:
    """Return whether address `address_id`, now `address` (None when deleted since), reads as the
    checkout page showed it."""
    return address is not None and confirmation.addresses.get(address_id) == address_fingerprint(address)


def confirmation_changes(
    *,
    confirmation: Confirmation,
    summary: CartSummary,
    delivery_id: int | None = None,
    deliveries: Sequence[DeliveryOption] = (),
    address_id: int | None = None,
    addresses: Sequence[Address] = (),
) -> list[str]:
    """Return a sentence for each way the cart now (`summary`), the delivery option chosen
    (`delivery_id`, among `deliveries` offered now) and the address chosen (`address_id`, in the
    book now: `addresses`) differ from what was confirmed."""
    changes = _cart_changes(confirmation, summary)
    shown = confirmation.deliveries.get(delivery_id)
    if shown is not None:
        option = next((option for option in deliveries if option.pk == delivery_id), None)
        if option is None:
            changes.append(f"{shown.name} is no longer offered: please choose another delivery.")
        elif option.price != shown.price:
            went = "up" if option.price > shown.price else "down"
            changes.append(
                f"The price of {option.name} went {went} from {money(shown.price)} to {money(option.price)}."
            )
    if address_id in confirmation.addresses:
        address = next((address for address in addresses if address.pk == address_id), None)
        if address is None:
            changes.append("The address you chose is no longer in your address book: please choose one.")
        elif not address_unchanged(confirmation=confirmation, address=address, address_id=address_id):
            changes.append(f"The address you chose was changed meanwhile; it now reads: {address}.")
    return changes


def _cart_changes(confirmation: Confirmation, summary: CartSummary) -> list[str]:
    """Return a sentence for each way the cart now (`summary`) differs from the lines confirmed."""
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
