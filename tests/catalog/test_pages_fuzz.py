"""Any query string on the catalog pages and the search gets a 200, 400 or 404: never a 500."""

from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import fuzz_examples
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

KEYS = st.one_of(
    st.sampled_from(
        [
            "color",
            "size",
            "brand",
            "price_min",
            "price_max",
            "sort",
            "page",
            "details__color",
            "_connector",
            "color__in",
            "pk",
            "id",
            "order_by",
            "weight_g_min",
            "weight_g_max",
            "q",
            "category",
        ]
    ),
    st.text(max_size=30),
)
VALUES = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="0123456789-.eE", max_size=30),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(
        ["red", "M", "price", "-price", "name", "new", "NaN", "Infinity", "1e999", "\x00", "'\";--"]
    ),
    st.just("x" * 10_000),
)
# What a search box may be sent: words, tsquery syntax, SQL, unicode, huge, control characters.
SEARCHES = st.one_of(
    st.text(max_size=120),
    st.text(alphabet="&|!:*()<->'\"\\ -or", max_size=40),
    st.sampled_from(
        [
            "",
            "a",
            "shirt",
            "shrit",
            "red shirt -blue",
            '"red shirt" or blue',
            "!!!",
            "-shirt",
            "'; DROP TABLE catalog_product; --",
            "1) OR (1=1",
            "a:* & b:*",
            "<->",
            "\x00",
            "shirt\x00",
            "\uff53\uff48\uff49\uff52\uff54",  # fullwidth
            "rouge 🙂 シャツ",
            "\ud800",
            " " * 50,
        ]
    ),
    st.just("shirt " * 2_000),
)


@pytest.fixture
def catalog():
    shirts = CategoryFactory(slug="shirts", facets=["color", "size", ("weight_g", "Weight", "g", "range")])
    for n, color in enumerate(["red", "blue"]):
        ProductFactory(
            category=shirts, name=f"Oxford shirt {n}", details={"color": color, "size": "M", "weight_g": 300}
        )
    return shirts


@settings(
    max_examples=fuzz_examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(query=st.lists(st.tuples(KEYS, VALUES), max_size=8))
def test_category_page_answers_any_query_string_without_a_500(client, catalog, query):
    response = client.get(f"/c/shirts/?{urlencode(query)}")

    assert response.status_code in {200, 400, 404}


@settings(
    max_examples=fuzz_examples(50), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(slug=st.text(max_size=300), query=st.lists(st.tuples(KEYS, VALUES), max_size=4))
def test_product_and_category_urls_answer_any_slug_without_a_500(client, catalog, slug, query):
    for prefix in ("/c/", "/p/"):
        response = client.get(f"{prefix}{slug}/?{urlencode(query)}")
        # 301: a slug ending in "?" leaves a path without its slash, which APPEND_SLASH redirects.
        assert response.status_code in {200, 301, 400, 404}


@settings(
    max_examples=fuzz_examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(search=SEARCHES, query=st.lists(st.tuples(KEYS, VALUES), max_size=4))
def test_search_answers_any_search_and_query_string_without_a_500(client, catalog, search, query):
    # A lone surrogate is sent as the bytes a browser could send: invalid UTF-8.
    response = client.get(f"/search/?{urlencode([('q', search), *query], errors='surrogatepass')}")

    assert response.status_code in {200, 400, 404}
    # The page reads the last `q`, as Django's QueryDict does: the one a repeated key leaves.
    searched = [value for key, value in [("q", search), *query] if key == "q"][-1]
    if response.status_code == 200 and searched.strip():
        assert b"Results for" in response.content  # a search that ran says what it found


@settings(
    max_examples=fuzz_examples(50), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(search=SEARCHES)
def test_a_search_on_the_home_page_goes_to_the_search_page(client, catalog, search):
    response = client.get(f"/?{urlencode([('q', search)], errors='surrogatepass')}")

    assert response.status_code == 302
    assert response["Location"].startswith("/search/?q=")
