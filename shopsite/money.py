"""How the shop shows an amount of money, one way everywhere: `$1,234.56`.

`money(value)` for Python (catalog.fragments, admin columns, messages), `{{ amount|money }}` in
every template (shopsite.money_tags, a builtin: no `{% load %}`). The symbol is the setting
CURRENCY_SYMBOL (`$` unless the environment says otherwise), before the amount; thousands are
separated by commas; always two decimals, rounded half away from zero as PostgreSQL's `round()`
does; a negative amount is `-$12.50`; no amount (None) is an en dash (U+2013), as in a table.

`money_compact(value)` is the short form for where there is no room for every digit, a chart's
axis (reports.charts): `$750`, `$2.5k`, `$12k`, `$1.25M`, with the same symbol, sign and dash.

Amounts stay Decimals until shown: this is the last step, never a value to compute with or to
write into a CSV export (exports keep numbers as numbers).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation

from django.conf import settings

NO_AMOUNT = "\u2013"  # an en dash
CENT = Decimal("0.01")
THOUSAND = Decimal(1000)
# Thousands, millions, billions, trillions: the largest that the amount reaches.
COMPACT_UNITS = ((Decimal(10**12), "T"), (Decimal(10**9), "B"), (Decimal(10**6), "M"), (THOUSAND, "k"))


def money(value: Decimal | int | str | None) -> str:
    """Return an amount of money as the shop shows it: `$1,234.56`, `-$12.50`, an en dash for None.

    Decimals, integers and their text are read exactly (floats through their shortest text);
    anything else, or an amount that is not finite, raises ValueError.
    """
    if value is None:
        return NO_AMOUNT
    cents = _cents(value)
    sign = "-" if cents < 0 else ""  # -0.001 rounds to 0.00: no sign
    return f"{sign}{settings.CURRENCY_SYMBOL}{abs(cents):,.2f}"


def money_compact(value: Decimal | int | str | None) -> str:
    """Return an amount of money in short, for a chart's axis: `$0`, `$7.50`, `$750`, `$2.5k`,
    `$12k`, `$1.25M`, `-$40k`; an en dash for None.

    Under 1,000 the amount is shown to the cent as money() shows it, without `.00` when whole;
    from 1,000 it is rounded half away from zero to three significant digits and counted in
    thousands (k), millions (M), billions (B) or trillions (T), without trailing zeros. The
    symbol, the sign and what is refused are money()'s.
    """
    if value is None:
        return NO_AMOUNT
    cents = _cents(value)
    size = abs(cents)
    if size < THOUSAND:
        shown = f"{size:.0f}" if size == size.to_integral_value() else f"{size:.2f}"
    else:
        # Three significant digits; 999,999 rounds up to 1.00E+6 and so shows as $1M, not $1000k.
        size = size.quantize(Decimal(1).scaleb(size.adjusted() - 2), rounding=ROUND_HALF_UP)
        unit, suffix = next((unit, suffix) for unit, suffix in COMPACT_UNITS if size >= unit)
        shown = f"{(size / unit).normalize():,f}{suffix}"
    sign = "-" if cents < 0 else ""  # -0.001 rounds to 0.00: no sign
    return f"{sign}{settings.CURRENCY_SYMBOL}{shown}"


def _cents(value: object) -> Decimal:
    """Return the amount rounded to the cent, half away from zero."""
    amount = _decimal(value)
    # Room for every digit of the rounded amount, however large (the default context has 28).
    return amount.quantize(CENT, rounding=ROUND_HALF_UP, context=Context(prec=max(4, amount.adjusted() + 4)))


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
