"""The catalog's filter parser: only allow-listed facets reach a query, every value is typed or refused.

Properties over arbitrary query strings (ORM-looking keys, `__`, `_connector`, NUL bytes, quotes,
10,000-character values): first of the form alone, then of the SQL the category page runs.
"""

import json
import re
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.filters import MAX_PAGE, MAX_RANGE_NUMBER, MAX_VALUE_LENGTH, MAX_VALUES_PER_FACET, SORTS, Facet
from catalog.forms import ProductFilterForm
from catalog.models import MAX_PRICE, NUMERIC_DETAILS
from tests.conftest import fuzz_examples
from tests.factories import CategoryFactory, ProductFactory
from tests.strategies import HOSTILE_VALUES, form_body, hostile_fields

FACETS = ["color", "size"]
RANGES = ["ram_gb"]  # a range facet: ram_gb_min, ram_gb_max
DECLARED = [Facet("color", "Color"), Facet("size", "Size"), Facet("ram_gb", "RAM", "GB", "range")]
FIELDS = ["price_min", "price_max", "sort", "page", "ram_gb_min", "ram_gb_max"]
# A value the parser must accept as a facet value, so that the properties are not only about refusals.
FACET_VALUES = st.one_of(st.sampled_from(["red", "blue", "M", "42", "4'2", 'say "hi"']), HOSTILE_VALUES)
QUERIES = st.one_of(
    hostile_fields(*FACETS, *FIELDS, max_size=10),
    st.lists(st.tuples(st.sampled_from(FACETS), FACET_VALUES), min_size=1, max_size=6),
)

# A JSONB operator applied to the details column, with the literal it is given:
# details @> '{"color": "red"}'::jsonb, details ->> 'color', details ? 'color', ...
JSONB_LOOKUP = re.compile(r"\"details\"\s*(@>|<@|->>|->|#>>|#>|\?\||\?&|\?|@\?|@@)\s*'((?:[^']|'')*)'")


def jsonb_keys(sql: str) -> set[str]:
    """Return every details key a JSONB lookup in the SQL names (containment objects' top-level keys)."""
    keys = set()
    for operator, literal in JSONB_LOOKUP.findall(sql):
        text = literal.replace("''", "'")
        if operator in {"@>", "<@"}:
            keys |= set(json.loads(text))
        else:
            keys.add(text)
    return keys


def containment_keys(sql: str) -> set[str]:
    """Return the details keys of the containment filters (`@>`) in the SQL."""
    return {
        key
        for operator, literal in JSONB_LOOKUP.findall(sql)
        if operator == "@>"
        for key in json.loads(literal.replace("''", "'"))
    }


def parse(query: list[tuple[str, str]]) -> ProductFilterForm:
    form = ProductFilterForm(QueryDict(form_body(query)), facets=DECLARED)
    form.is_valid()
    return form


# --- The form alone ---------------------------------------------------------------------------


@settings(max_examples=fuzz_examples(500), deadline=None)
@given(query=QUERIES)
def test_only_allow_listed_facets_become_attribute_filters(query):
    filters = parse(query).filters()

    assert set(filters.attributes) <= set(FACETS)
    given_facets = {key for key, value in query if key in FACETS and value.strip()}
    assert set(filters.attributes) <= given_facets


@settings(max_examples=fuzz_examples(500), deadline=None)
@given(query=QUERIES)
def test_facet_values_are_bounded_text_or_refused(query):
    form = parse(query)
    filters = form.filters()

    for values in filters.attributes.values():
        assert isinstance(values, tuple)
        assert 1 <= len(values) <= MAX_VALUES_PER_FACET
        assert list(values) == sorted(set(values))
        for value in values:
            assert type(value) is str
            assert value
            assert value == value.strip()
            assert len(value) <= MAX_VALUE_LENGTH
            assert "\x00" not in value
    for facet in FACETS:
        asked = {value.strip() for key, value in query if key == facet and value.strip()}
        if asked and facet not in filters.attributes:
            assert form.non_field_errors(), f"{facet} values were dropped without saying why"


@settings(max_examples=fuzz_examples(500), deadline=None)
@given(query=QUERIES)
def test_price_sort_and_page_are_typed_or_refused(query):
    form = parse(query)
    filters = form.filters()
    given_values = QueryDict(form_body(query))

    for name in ("price_min", "price_max"):
        value = getattr(filters, name)
        if value is None:
            raw = given_values.get(name, "").strip()
            assert not raw or name in form.errors, f"{name}={raw!r} neither applied nor refused"
        else:
            assert type(value) is Decimal
            assert value.is_finite()
            assert Decimal(0) <= value <= MAX_PRICE
            assert value.as_tuple().exponent >= -2
    if filters.price_min is not None and filters.price_max is not None:
        assert filters.price_min <= filters.price_max
    for key, (low, high) in filters.ranges.items():
        assert key in RANGES
        for bound in (low, high):
            assert bound is None or (type(bound) is Decimal and bound.is_finite())
            assert bound is None or abs(bound) <= MAX_RANGE_NUMBER
        assert low is None or high is None or low <= high
    for name in ("ram_gb_min", "ram_gb_max"):
        raw = given_values.get(name, "").strip()
        applied = filters.ranges.get("ram_gb", (None, None))[name.endswith("_max")]
        assert not raw or applied is not None or form.errors, f"{name}={raw!r} neither applied nor refused"
    assert filters.sort in SORTS
    page = form.page_number()
    assert type(page) is int
    assert 1 <= page <= MAX_PAGE


def test_a_valid_query_is_parsed_into_typed_filters():
    form = parse(
        [("color", "red"), ("color", " blue "), ("price_min", "5"), ("sort", "-price"), ("details__x", "1")]
    )

    assert form.is_valid()
    assert form.filters().attributes == {"color": ("blue", "red")}
    assert form.filters().price_min == Decimal("5")
    assert form.filters().sort == "-price"


# --- The SQL the category page runs -----------------------------------------------------------


@pytest.fixture
def shirts(db):
    category = CategoryFactory(slug="shirts", facets=[*FACETS, ("ram_gb", "RAM", "GB", "range")])
    ProductFactory(category=category, details={"color": "red", "size": "M", "brand": "Acme", "ram_gb": 16})
    ProductFactory(category=category, details={"color": "4'2", "size": 42, "brand": "Other"})
    return category


def test_jsonb_keys_finds_the_keys_of_every_lookup_kind():
    sql = (
        """SELECT ("catalog_product"."details" ->> 'size') FROM "catalog_product" WHERE """
        """"catalog_product"."details" @> '{"color": "4''2", "brand": "x"}'::jsonb """
        """AND "catalog_product"."details" ? 'material'"""
    )

    assert jsonb_keys(sql) == {"size", "color", "brand", "material"}
    assert containment_keys(sql) == {"color", "brand"}


@settings(
    max_examples=fuzz_examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(query=QUERIES)
def test_no_key_outside_the_allow_list_reaches_a_jsonb_lookup(client, shirts, query):
    cache.clear()  # every example runs the facet-count query too, not its cached result

    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/c/shirts/?{form_body(query)}")

    assert response.status_code in {200, 400, 404}
    sql = [captured["sql"] for captured in queries.captured_queries]
    assert any('"catalog_product"' in statement for statement in sql)
    for statement in sql:
        # the category's facets, and the numeric details whose ranges the category's query reads
        assert jsonb_keys(statement) <= {*FACETS, *RANGES, *NUMERIC_DETAILS}, statement
    # Exactly the facets the parser accepted are filtered on: the check above is not vacuous.
    expected = set(parse(query).filters().attributes)
    assert set().union(*(containment_keys(statement) for statement in sql)) == expected
