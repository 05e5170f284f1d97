"""Cache keys built from request input: one helper, so that two different inputs never share an entry.

A key is `<namespace>:<sha256 hex>` of a canonical JSON encoding of its parts, each part tagged
with its type: joining raw text with separators (`a,b` + `c` against `a` + `b,c`) lets a crafted
value build the key of another filter set, and a digest keeps any text out of the key itself.

Two parts give the same key exactly when they are equal as the shop means it:
- same type and same value: `1`, `1.0`, `True`, `"1"` and `Decimal("1")` are five keys, `None`
  and `"None"` two, `""` and `None` two;
- a Decimal by its value, not its spelling: `Decimal("1.0")` and `Decimal("1.00")` are one price
  filter, as are `0` and `-0` (every digit is kept: no rounding to a context's precision);
- a list and a tuple with equal items are one sequence; a set and a frozenset one set; a dict by
  its items, whatever their order;
- a float by its `repr` (`0.0` and `-0.0` are two keys; NaN is one), a date or datetime by its ISO
  text (so one instant in two time zones is two keys: never one key for two instants).
Any other type is a TypeError: its `str` may be ambiguous, so it must be turned into these first.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime, time
from decimal import Decimal

# A namespace is a name chosen in code, never request input; ":" separates it from the digest.
NAMESPACE = re.compile(r"[a-z][a-z0-9_-]*")


def cache_key(namespace: str, *parts: object) -> str:
    """Return the key of the entry named by `parts` in `namespace`: equal parts, equal keys; else
    different keys."""
    _check_namespace(namespace)
    encoded = json.dumps([_canonical(part) for part in parts], ensure_ascii=True, separators=(",", ":"))
    return f"{namespace}:{hashlib.sha256(encoded.encode('ascii')).hexdigest()}"


def version_key(namespace: str) -> str:
    """Return the key of a namespace's version number."""
    _check_namespace(namespace)
    return f"ns:{namespace}"


def _check_namespace(namespace: str) -> None:
    if not isinstance(namespace, str) or not NAMESPACE.fullmatch(namespace):
        raise ValueError(f"cache namespace {namespace!r}: lowercase letters, digits, '-' and '_' only")


def _canonical(part: object) -> list:
    """Return `part` as a JSON-ready [type tag, value] pair, the same for equal parts only."""
    # bool before int, datetime before date: each is a subclass of the other.
    if part is None:
        return ["none"]
    if isinstance(part, bool):
        return ["bool", part]
    if isinstance(part, int):
        return ["int", str(part)]  # as text: exact at any size, whatever reads the JSON
    if isinstance(part, str):
        return ["str", part]
    if isinstance(part, Decimal):
        return ["decimal", _decimal_text(part)]
    if isinstance(part, float):
        return ["float", repr(part)]
    if isinstance(part, datetime):
        return ["datetime", part.isoformat()]
    if isinstance(part, date):
        return ["date", part.isoformat()]
    if isinstance(part, time):
        return ["time", part.isoformat()]
    if isinstance(part, list | tuple):
        return ["seq", [_canonical(item) for item in part]]
    if isinstance(part, set | frozenset):
        return ["set", sorted((_canonical(item) for item in part), key=_sort_key)]
    if isinstance(part, dict):
        items = [[_canonical(key), _canonical(value)] for key, value in part.items()]
        return ["map", sorted(items, key=lambda item: _sort_key(item[0]))]
    raise TypeError(f"a cache key part cannot be a {type(part).__name__}: pass plain values")


def _sort_key(canonical: list) -> str:
    return json.dumps(canonical, ensure_ascii=True, separators=(",", ":"))


def _decimal_text(value: Decimal) -> str:
    """Return the exact value of a Decimal, the same for every spelling of it ("1.0", "1.00")."""
    if not value.is_finite():
        return str(value)  # NaN, sNaN, Infinity, -Infinity
    if value.is_zero():
        return "0"
    sign, digits, exponent = value.as_tuple()
    significant = "".join(map(str, digits)).rstrip("0")
    exponent += len(digits) - len(significant)  # each trailing zero dropped moves the point
    return f"{'-' if sign else ''}{significant}e{exponent}"
