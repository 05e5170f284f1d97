"""Cache keys from request input never collide: one helper (shopsite.caching.keys.cache_key) hashes a
typed, canonical encoding of the parts, so two different inputs never share an entry."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from catalog.filters import ProductFilters
from shopsite.caching.keys import cache_key
from tests.conftest import fuzz_examples

# What a crafted value uses to pass for another: separators of naive keys, NUL, and unicode.
HOSTILE = ",;:=-\x00 |'\"\\%&é\u2028\U0001f600"
hostile_text = st.one_of(
    st.text(alphabet=st.sampled_from([*HOSTILE, "a", "b", "1", "0"]), max_size=6),
    st.sampled_from(["", "None", "red", "red;size=M", "red,blue", "1.0"]),
)
decimals = st.decimals(allow_nan=False, allow_infinity=False, max_value=10**6, min_value=-(10**6))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=3),
    st.integers(),
    hostile_text,
    st.sampled_from(["", "None", "1", "1.0", "True", "null", '"a"', '["str","a"]']),
    decimals,
    st.sampled_from(
        [Decimal("1"), Decimal("1.0"), Decimal("1.00"), Decimal("-0"), Decimal("0"), Decimal("1E+2")]
    ),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.floats(allow_nan=False),
    st.dates(),
    st.datetimes(timezones=st.sampled_from([None, UTC])),
)
hashable = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), hostile_text, decimals)
parts = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.frozensets(hashable, max_size=3),
        st.dictionaries(hostile_text, inner, max_size=3),
    ),
    max_leaves=8,
)
part_tuples = st.lists(parts, max_size=4).map(tuple)


def meaning(part: object) -> object:
    """Return what a part means, independently of cache_key: equal meanings must share a key,
    different ones never. The rules are the ones documented in shopsite/caching/keys.py."""
    if part is None:
        return ("none",)
    if isinstance(part, bool):
        return ("bool", part)
    if isinstance(part, int):
        return ("int", part)
    if isinstance(part, str):
        return ("str", part)
    if isinstance(part, Decimal):  # by value: 1.0 is 1.00, -0 is 0; NaNs by their text
        return ("decimal", part if part.is_finite() else str(part))
    if isinstance(part, float):
        return ("float", repr(part))
    if isinstance(part, datetime):
        return ("datetime", part.isoformat())
    if isinstance(part, date):
        return ("date", part.isoformat())
    if isinstance(part, list | tuple):
        return ("seq", tuple(meaning(item) for item in part))
    if isinstance(part, frozenset | set):
        return ("set", frozenset(meaning(item) for item in part))
    if isinstance(part, dict):
        return ("map", frozenset((meaning(key), meaning(value)) for key, value in part.items()))
    raise AssertionError(type(part))


@settings(max_examples=fuzz_examples(300))
@given(st.tuples(part_tuples, part_tuples))
def test_different_parts_never_share_a_key_and_equal_parts_always_do(pair):
    first, second = pair

    same_meaning = meaning(first) == meaning(second)

    assert (cache_key("catalog", *first) == cache_key("catalog", *second)) is same_meaning


@given(st.lists(hostile_text, min_size=1, max_size=4), st.sampled_from(",;:=-\x00"))
def test_parts_joined_by_a_separator_are_another_key(texts, separator):
    joined = separator.join(texts)
    assume(len(texts) > 1)

    assert cache_key("catalog", *texts) != cache_key("catalog", joined)
    assert cache_key("catalog", texts) != cache_key("catalog", [joined])


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ((None,), ("None",)),
        ((1,), ("1",)),
        ((1,), (True,)),
        ((1,), (1.0,)),
        ((1,), (Decimal(1),)),
        (("",), (None,)),
        (("",), ()),
        (("a", "b"), ("a,b",)),
        (("a", "b"), (("a", "b"),)),
        (({"a": "b"},), ({"a": ["b"]},)),
        ((Decimal("1.0"),), (Decimal("1.01"),)),
        ((Decimal("100"),), (Decimal("1"),)),
        ((date(2025, 1, 2),), ("2025-01-02",)),
        ((0.0,), (-0.0,)),
    ],
)
def test_these_inputs_are_different_keys(first, second):
    assert cache_key("catalog", *first) != cache_key("catalog", *second)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ((Decimal("1.0"),), (Decimal("1.00"),)),
        ((Decimal("-0"),), (Decimal("0.000"),)),
        ((Decimal("1E+2"),), (Decimal("100"),)),
        (
            (Decimal("12345678901234567890123456789012345"),),
            (Decimal("12345678901234567890123456789012345.0"),),
        ),
        (([1, "a"],), ((1, "a"),)),
        (({"a": 1, "b": 2},), ({"b": 2, "a": 1},)),
        ((frozenset({"x", "y"}),), ({"y", "x"},)),
    ],
)
def test_these_inputs_are_the_same_key(first, second):
    assert cache_key("catalog", *first) == cache_key("catalog", *second)


def test_decimals_that_differ_past_the_context_precision_are_different_keys():
    # normalize() would round both to 28 digits: the key keeps every digit.
    assert cache_key("catalog", Decimal("1." + "0" * 40 + "1")) != cache_key("catalog", Decimal(1))


def test_a_key_holds_no_input_text_and_names_its_namespace():
    key = cache_key("catalog", "listing", "red;size=M\x00")

    namespace, digest = key.split(":")
    assert namespace == "catalog"
    assert len(digest) == 64
    assert int(digest, 16) >= 0


def test_a_namespace_is_part_of_the_key():
    assert cache_key("catalog", "x") != cache_key("dashboard", "x")


@pytest.mark.parametrize("namespace", ["", "Catalog", "cat:alog", "catalog:x", None, "a b"])
def test_a_namespace_is_a_plain_name(namespace):
    with pytest.raises(ValueError, match="cache namespace"):
        cache_key(namespace, "x")


@pytest.mark.parametrize("part", [object(), b"bytes", ProductFilters(), 1j])
def test_a_part_of_another_type_is_refused_rather_than_turned_into_text(part):
    with pytest.raises(TypeError, match="cache key part"):
        cache_key("catalog", part)


# --- The catalog's filters -------------------------------------------------------------------

prices = st.one_of(
    st.none(),
    st.sampled_from(
        [Decimal("1"), Decimal("1.0"), Decimal("1.00"), Decimal("0"), Decimal("-0"), Decimal("10")]
    ),
    st.decimals(min_value=0, max_value=1000, places=2),
)
facet_values = st.lists(hostile_text, max_size=3).map(tuple)
filters = st.builds(
    ProductFilters,
    price_min=prices,
    price_max=prices,
    attributes=st.dictionaries(st.sampled_from(["color", "size"]), facet_values, max_size=2),
    sort=st.sampled_from(["price", "-price", "name", "new"]),
)


def filters_meaning(f: ProductFilters) -> tuple:
    """Return which products the filters match, as far as the key may know: prices by value,
    each facet's values as a set (any of them matches), no facet for a facet without values; the
    sort changes no count."""
    return (
        f.price_min,
        f.price_max,
        frozenset((facet, frozenset(values)) for facet, values in f.attributes.items() if values),
    )


def listing_key(f: ProductFilters) -> str:
    return cache_key("catalog", "listing", 7, *f.cache_parts())


@settings(max_examples=fuzz_examples(300))
@given(st.tuples(filters, filters))
def test_different_filter_sets_never_share_a_key_and_equal_ones_always_do(pair):
    first, second = pair

    assert (listing_key(first) == listing_key(second)) is (filters_meaning(first) == filters_meaning(second))


@given(st.lists(hostile_text, min_size=1, max_size=3), st.lists(hostile_text, min_size=1, max_size=3))
def test_a_value_holding_separators_never_passes_for_two_facets(colors, sizes):
    real = ProductFilters(attributes={"color": tuple(colors), "size": tuple(sizes)})
    for crafted_color in (f"{','.join(colors)};size={','.join(sizes)}", ",".join(colors + sizes)):
        crafted = ProductFilters(attributes={"color": (crafted_color,)})
        assert listing_key(crafted) != listing_key(real)
