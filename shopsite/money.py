"""How the shop shows an amount of money, one way everywhere: `$1,234.56`.

`money(value)` for Python (catalog.fragments, admin columns, messages), `{{ amount|money }}` in
every template (shopsite.money_tags, a builtin: no `{% load %}`). The symbol is the setting
CURRENCY_SYMBOL (`$` unless the environment says otherwise), before the amount; thousands are
separated by commas; always two decimals, rounded half away from zero as PostgreSQL's `round()`
does; a negative amount is `-$12.50`; no amount (None) is an en dash (U+2013), as in a table.

Amounts stay Decimals until shown: this is the last step, never a value to compute with or to
write into a CSV export (exports keep numbers as numbers).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation

from django.conf import settings

NO_AMOUNT = "\u2013"  # an en dash
CENT = Decimal("0.01")


def money(value: Decimal | int | str | None) -> str:
    """Return an amount of money as the shop shows it: `$1,234.56`, `-$12.50`, an en dash for None.

    Decimals, integers and their text are read exactly (floats through their shortest text);
    anything else, or an amount that is not finite, raises ValueError.
    """
    if value is None:
        return NO_AMOUNT
    amount = _decimal(value)
    # Room for every digit of the rounded amount, however large (the default context has 28).
    cents = amount.quantize(CENT, rounding=ROUND_HALF_UP, context=Context(prec=max(4, amount.adjusted() + 4)))
    sign = "-" if cents < 0 else ""  # -0.001 rounds to 0.00: no sign
    return f"{sign}{settings.CURRENCY_SYMBOL}{abs(cents):,.2f}"


def _decimal(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float | str):
        raise ValueError(f"not an amount of money: {value!r}")
    try:
        amount = Decimal(str(value) if isinstance(value, float) else value)
    except InvalidOperation:
        raise ValueError(f"not an amount of money: {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"not an amount of money: {value!r}")
    return amount
