"""Hypothesis strategies for hostile input: the keys and values an attacker would send."""

from urllib.parse import urlencode

from hypothesis import strategies as st

# Keys that mean something to the ORM, to Django admin, or to a careless `filter(**request.GET)`.
ORM_LOOKING_KEYS = [
    "details__color",
    "details__has_key",
    "details__contains",
    "color__in",
    "color__",
    "__color",
    "__",
    "____",
    "price__gt",
    "price__lte",
    "pk",
    "pk__in",
    "id",
    "is_active",
    "category__slug",
    "customer__user__password__startswith",
    "user__password",
    "_connector",
    "_negated",
    "__class__",
    "__dict__",
    "o",
    "q",
    "p",
    "e",
    "all",
    "_changelist_filters",
    "order_by",
    "csrfmiddlewaretoken",
    "color\x00",
    "col'or",
    'col"or',
    "x" * 10_000,
]
HOSTILE_VALUES = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=200),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "red\x00",
            "'",
            '"',
            "'\";--",
            "' OR '1'='1",
            "\\",
            "NaN",
            "-Infinity",
            "1e999",
            "-0",
            "0001-01-01",
            "9999-12-31",
            "//evil.example/",
            "/cart/\r\nSet-Cookie: x=y",
            "{}",
            '{"color": "red"}',
        ]
    ),
    st.just("x" * 10_000),
    st.just("9" * 10_000),
)


def hostile_keys(*known: str):
    """Return a strategy of form keys: the form's own names, ORM-looking names, and any text."""
    return st.one_of(st.sampled_from([*known, *ORM_LOOKING_KEYS]), st.text(max_size=30))


def hostile_fields(*known: str, max_size: int = 8):
    """Return a strategy of (key, value) lists, repeated keys included, as a query string or a body has."""
    return st.lists(st.tuples(hostile_keys(*known), HOSTILE_VALUES), max_size=max_size)


def form_body(fields: list[tuple[str, str]]) -> str:
    """Return fields as an application/x-www-form-urlencoded body (or a query string)."""
    return urlencode(fields)
