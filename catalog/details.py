"""What a product's `details` may hold: one set of rules for every way they are written.

The import (catalog/importing.py) and the admin form (catalog/admin.py) read details with
`details_from_json`, or check a value already parsed with `json_loads_strict` through
`details_checked`, so nothing reaches PostgreSQL that jsonb refuses, or that Python could store
but never read back (a 500 on every page showing it). Tried against PostgreSQL 15:

- a JSON object at the top, nested at most MAX_DETAILS_DEPTH levels (the object is level 1);
- text (keys too) without NUL (jsonb refuses \\u0000) or lone surrogates ("\\ud800": not Unicode
  text, jsonb refuses it and psycopg2 cannot send it);
- numbers: no NaN or Infinity (not JSON, jsonb refuses them); whole numbers within 64 bits; other
  numbers within double precision, none so close to 0 that it reads as 0. jsonb stores numeric and
  takes up to 131,072 digits (1e400 too), but Python reads 1e400 as infinity, 1e-400 as 0, and no
  integer of more than 4,300 digits;
- at most MAX_DETAILS_CHARS characters of JSON.
"""

from __future__ import annotations

import json
import math
import re

MAX_DETAILS_DEPTH = 8
MAX_DETAILS_CHARS = 64 * 1024
MAX_WHOLE_NUMBER = 2**63 - 1  # a bigint: what (details->>'key')::bigint can read
NOT_UNICODE = re.compile("[\ud800-\udfff]")  # lone surrogates, which no UTF-8 text can hold
NOT_TEXT = re.compile("[\x00\ud800-\udfff]")  # what jsonb text cannot hold: NUL, lone surrogates
NONZERO_DIGIT = re.compile(r"[1-9]")


class DetailsRefused(ValueError):
    """Details the shop cannot store; `reason` says why in a sentence, `code` names the rule."""

    def __init__(self, reason: str, *, code: str):
        super().__init__(reason)
        self.reason = reason
        self.code = code


def json_loads_strict(text: str):
    """Parse JSON text, refusing numbers that jsonb and Python cannot both hold as written.

    Raise DetailsRefused: code "not_json" (with json's own reason), "number" or "too_deep". Whole
    numbers are read by json itself (details_checked bounds them): a hook would cost every row.
    """
    try:
        return json.loads(text, parse_float=_number, parse_constant=_not_a_json_number)
    except DetailsRefused:
        raise
    except json.JSONDecodeError as error:
        raise DetailsRefused(f"not valid JSON: {error.msg}", code="not_json") from None
    except ValueError:  # int() reads no more than 4,300 digits (sys.get_int_max_str_digits)
        raise DetailsRefused(
            f"a whole number of more than 4,300 digits is out of range (at most ±{MAX_WHOLE_NUMBER})",
            code="number",
        ) from None
    except RecursionError:
        # Python's parser gives up near 1,000 levels; anything that deep is far past the limit.
        raise DetailsRefused(
            f"JSON nested too deeply (details may nest {MAX_DETAILS_DEPTH} levels)", code="too_deep"
        ) from None


def details_from_json(text: str) -> dict:
    """Return details typed or imported as JSON text, checked; raise DetailsRefused saying why not."""
    if len(text) > MAX_DETAILS_CHARS:
        raise DetailsRefused(f"details larger than {MAX_DETAILS_CHARS // 1024} KB", code="too_large")
    try:
        details = json_loads_strict(text)
    except DetailsRefused as refused:
        if refused.code == "number":
            raise
        reason = f"details is {refused.reason}" if refused.code == "not_json" else _too_deep()
        raise DetailsRefused(reason, code=refused.code) from None
    return details_checked(details)


def details_checked(details) -> dict:
    """Return `details` if the shop can store them as they are; raise DetailsRefused otherwise."""
    if not isinstance(details, dict):
        raise DetailsRefused('details must be a JSON object, e.g. {"color": "red"}', code="not_object")
    _check_container(details, depth=1)
    return details


def _check_container(container: dict | list, *, depth: int) -> None:
    # Recursion is bounded by MAX_DETAILS_DEPTH: deeper is refused before it is entered.
    if depth > MAX_DETAILS_DEPTH:
        raise DetailsRefused(_too_deep(), code="too_deep")
    if isinstance(container, dict):
        for key in container:
            if type(key) is not str or NOT_TEXT.search(key):
                _check_text(key)
        values = container.values()
    else:
        values = container
    for value in values:
        kind = type(value)  # exact types first: this runs for every value of every imported row
        if kind is str:
            if NOT_TEXT.search(value):
                _check_text(value)
        elif kind is dict or kind is list:
            _check_container(value, depth=depth + 1)
        elif kind is int:
            if not -MAX_WHOLE_NUMBER <= value <= MAX_WHOLE_NUMBER:
                _whole_number_refused(value)
        elif kind is float:
            if math.isnan(value):
                _not_a_json_number("NaN")
            if math.isinf(value):
                _number(repr(value))  # refused: out of range
        elif value is None or kind is bool:
            pass
        else:  # what json.loads never makes: a tuple, a Decimal, a subclass of str or dict...
            raise DetailsRefused(f"details cannot hold a {kind.__name__}", code="type")


def details_json(details: dict) -> str:
    """Return checked details as the JSON text that is stored."""
    return json.dumps(details, ensure_ascii=False, allow_nan=False)


def _too_deep() -> str:
    return f"details are nested deeper than {MAX_DETAILS_DEPTH} levels"


def _check_text(text) -> None:
    if not isinstance(text, str):
        raise DetailsRefused(f"details keys must be text, not {text!r}", code="type")
    if "\x00" in text:
        raise DetailsRefused("details must not contain NUL characters", code="text")
    if NOT_UNICODE.search(text):
        raise DetailsRefused("details must not contain lone surrogates such as \\ud800", code="text")


def _shown(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _whole_number_refused(number: int):
    raise DetailsRefused(
        f"the whole number {_shown(str(number))} is out of range (at most ±{MAX_WHOLE_NUMBER})", code="number"
    )


def _number(text: str) -> float:
    number = float(text)
    # float() reads 1e400 as infinity and 1e-400 as 0: refused rather than stored changed.
    if math.isinf(number) or (number == 0 and NONZERO_DIGIT.search(text.lower().partition("e")[0])):
        raise DetailsRefused(
            f"the number {_shown(text)} is out of range of double precision (about ±1.8e308, "
            "and no closer to 0 than 5e-324)",
            code="number",
        )
    return number


def _not_a_json_number(name: str):
    raise DetailsRefused(f"{name} is not a JSON number", code="number")
