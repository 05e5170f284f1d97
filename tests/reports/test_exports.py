"""A report's CSV export follows its changelist: the same query string (search, list filters, date
hierarchy, ordering) gives exactly the rows the list shows, every page of them, in its order, read
a page per query by key (shopsite.admin.ChangelistExport, shopsite.db.keyset)."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qsl, urlencode

import pytest
from django.contrib import admin
from django.db import connection
from django.http import StreamingHttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from zeal import zeal_context

from accounts.models import Customer
from reports.models import REPORT_MODELS, CustomerValue
from tests.conftest import fuzz_examples
from tests.reports.helpers import varied_shop
from tests.reports.test_admin import REPORTS, changelist, csv_url, read_csv
from tests.strategies import HOSTILE_VALUES, form_body, hostile_keys

pytestmark = pytest.mark.django_db

MODELS = {model._meta.model_name: model for model in REPORT_MODELS.values()}
LIST_PER_PAGE = 4  # several pages of the list, whose rows the export must give all of
LINK = re.compile(r'<a href="\?([^"]*)"[^>]*>\s*([^<]*?)\s*</a>')
# A date typed in a query string reaches a DateTimeField naive; Django warns and reads it in the
# current time zone (UTC): an answer, not an error, though this suite turns RuntimeWarnings into errors.
NAIVE_DATES = "ignore:DateTimeField .* received a naive datetime:RuntimeWarning"


@pytest.fixture
def short_pages(monkeypatch, settings):
    """Pages of LIST_PER_PAGE rows in every report's list, and of 3 rows in its export."""
    for model in REPORT_MODELS.values():
        monkeypatch.setattr(admin.site._registry[model], "list_per_page", LIST_PER_PAGE)
    settings.CSV_CHUNK_SIZE = 3


def exported(client: Client, model_name: str, query: str = "") -> list[list[str]]:
    """Return the export's rows, its header first."""
    response = client.get(f"{csv_url(model_name)}?{query}")
    assert response.status_code == 200, response.content
    return read_csv(response)


def exported_pks(client: Client, model_name: str, query: str = "") -> list[str]:
    """Return the primary key of each row of the export, in its order."""
    header, *rows = exported(client, model_name, query)
    column = header.index(MODELS[model_name]._meta.pk.attname)
    return [row[column] for row in rows]


def listed_pks(client: Client, model_name: str, query: str = "") -> list[str]:
    """Return the primary key of each row the list shows for the query, page after page."""
    pks, page, pages = [], 1, 1
    while page <= pages:
        response = client.get(
            changelist(model_name), [*parse_qsl(query, keep_blank_values=True), ("p", page)]
        )
        assert response.status_code == 200
        pks += [str(row.pk) for row in response.context["cl"].result_list]
        pages, page = response.context["cl"].paginator.num_pages, page + 1
    return pks


def link(client: Client, model_name: str, text: str) -> str:
    """Return the query string of the list's link reading `text` (a filter's choice, a date of its
    hierarchy)."""
    html = client.get(changelist(model_name)).content.decode()
    links = {unescape(name): unescape(query) for query, name in LINK.findall(html)}
    return links[text]


# --- The rows: search, each kind of filter, the date hierarchy --------------------------------------


@pytest.mark.parametrize(
    ("model_name", "query", "shown"),
    [
        ("customervalue", "q=Ada", lambda row: row["name"].startswith("Ada ")),
        ("customervalue", "q=bob+example", lambda row: row["name"].startswith("Bob ")),  # every word matches
        ("productsales", "q=Red", lambda row: row["name"].startswith("Red ")),
        ("categorymonthly", "q=sock", lambda row: row["category_name"] == "Socks"),
    ],
)
def test_a_search_exports_only_the_rows_it_finds(admin_client, short_pages, model_name, query, shown):
    varied_shop(14)
    everything = exported(admin_client, model_name)

    header, *rows = exported(admin_client, model_name, query)

    assert rows == [row for row in everything[1:] if shown(dict(zip(header, row, strict=True)))]
    assert 0 < len(rows) < len(everything) - 1
    assert exported_pks(admin_client, model_name, query) == listed_pks(admin_client, model_name, query)


@pytest.mark.parametrize(
    ("model_name", "choice"),
    [
        ("productsales", "Shirts"),  # a choice among the column's values (AllValuesFieldListFilter)
        ("categorymonthly", "Socks"),
        ("salesdaily", "Past 7 days"),  # a date range (DateFieldListFilter)
        ("customersdaily", "This month"),
        ("customervalue", "more than 1"),  # the report's own OrdersOverFilter
        ("customervalue", "more than 5"),  # no customer has that many: the list and the export are empty
    ],
)
def test_each_kind_of_list_filter_exports_the_rows_it_lists(admin_client, short_pages, model_name, choice):
    varied_shop(14)
    query = link(admin_client, model_name, choice)

    pks = exported_pks(admin_client, model_name, query)

    assert pks == listed_pks(admin_client, model_name, query)
    if choice == "more than 5":
        assert pks == []
    else:
        assert 0 < len(pks) < MODELS[model_name].objects.count()


@pytest.mark.parametrize("model_name", ["salesdaily", "customersdaily", "categorymonthly"])
def test_the_date_hierarchy_exports_the_year_and_month_it_lists(admin_client, short_pages, model_name):
    varied_shop(14)
    today = timezone.localdate()
    field = admin.site._registry[MODELS[model_name]].date_hierarchy
    year = f"{field}__year={today.year}"
    month = f"{year}&{field}__month={today.month}"  # the data spans 60 days: two months or three

    for query in (year, month):
        assert exported_pks(admin_client, model_name, query) == listed_pks(admin_client, model_name, query)
    assert 0 < len(exported_pks(admin_client, model_name, month)) < MODELS[model_name].objects.count()


def test_filters_search_and_ordering_together(admin_client, short_pages):
    varied_shop(20)
    query = f"q=Ada&{link(admin_client, 'customervalue', 'more than 1')}&o=-4.1"

    pks = exported_pks(admin_client, "customervalue", query)

    assert pks == listed_pks(admin_client, "customervalue", query)
    rows = CustomerValue.objects.in_bulk([int(pk) for pk in pks])
    assert all(rows[int(pk)].name.startswith("Ada ") and rows[int(pk)].orders > 1 for pk in pks)
    assert len(pks) >= 4  # more than one page of the export


def test_a_search_nothing_matches_exports_the_header_only(admin_client, django_assert_num_queries):
    varied_shop(3)

    # user; freshness; the first page, empty
    with django_assert_num_queries(3):
        rows = exported(admin_client, "customervalue", "q=nobody+is+called+this")

    assert rows == [[field.attname for field in CustomerValue._meta.concrete_fields]]


# --- The order: any column, either way, ties across the pages -------------------------------------


@pytest.mark.parametrize("model_name", REPORTS)
def test_sorted_by_any_column_either_way_the_export_is_in_the_lists_order(
    admin_client, short_pages, model_name
):
    varied_shop(14)
    columns = len(admin.site._registry[MODELS[model_name]].list_display)

    for column in range(columns):
        for query in (f"o={column}", f"o=-{column}", f"o={column}.-{(column + 1) % columns}"):
            assert exported_pks(admin_client, model_name, query) == listed_pks(
                admin_client, model_name, query
            )


@pytest.mark.parametrize("direction", ["", "-"])
def test_ties_across_a_page_edge_lose_and_repeat_no_row(admin_client, short_pages, direction):
    varied_shop(20)
    query = f"o={direction}3"  # total spent: 10.00, 15.00, 20.00, ... many customers each

    header, *rows = exported(admin_client, "customervalue", query)

    spent = [row[header.index("total_spent")] for row in rows]
    # A tie straddles at least one edge between two pages of the export (3 rows each).
    assert any(spent[edge - 1] == spent[edge] for edge in range(3, len(rows), 3))
    pks = [row[0] for row in rows]
    assert sorted(map(int, pks)) == sorted(CustomerValue.objects.values_list("customer_id", flat=True))
    assert pks == listed_pks(admin_client, "customervalue", query)


# --- The link, the answers to bad query strings ---------------------------------------------------


def test_the_lists_csv_link_carries_its_query_string_without_the_page(admin_client, short_pages):
    varied_shop(14)
    query = f"q=Ada&{link(admin_client, 'customervalue', 'more than 1')}&o=-4.1"

    html = admin_client.get(f"{changelist('customervalue')}?{query}&p=2").content.decode()

    (href,) = re.findall(r'<a href="([^"]*)"[^>]*id="report-export-csv"', html)
    assert unescape(href) == f"{csv_url('customervalue')}?{query}"
    assert exported_pks(admin_client, "customervalue", query) == listed_pks(
        admin_client, "customervalue", query
    )


@pytest.mark.parametrize(
    ("model_name", "query", "reason"),
    [
        ("salesdaily", "nope=1", "Cannot resolve keyword 'nope' into field"),
        ("salesdaily", "day__gte=yesterday", "invalid date format"),
        ("salesdaily", "day__year=2025&day__month=13", "month must be in 1..12"),
        ("customervalue", "total_spent__gt=NaN", "must be a decimal number"),
        ("customervalue", "orders__in=1,x", "expected a number"),
        ("productsales", "units__nope=1", "Unsupported lookup 'nope'"),
    ],
)
def test_a_query_string_the_list_refuses_is_a_400_for_the_export(admin_client, model_name, query, reason):
    varied_shop(3)

    response = admin_client.get(f"{csv_url(model_name)}?{query}")

    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode().startswith("This list cannot be exported: its filters are not valid")
    assert reason in response.content.decode()
    # The list refuses it too: admin sends it to its "?e=1" page.
    assert admin_client.get(f"{changelist(model_name)}?{query}")["Location"].endswith("?e=1")


@pytest.mark.django_db(transaction=True)
def test_a_value_the_database_refuses_is_a_400_before_any_row_is_sent(admin_client, empty_views_after):
    varied_shop(3)

    response = admin_client.get(f"{csv_url('customervalue')}?name__regex=(")

    assert response.status_code == 400
    assert not response.streaming
    assert "invalid regular expression" in response.content.decode()


def test_an_order_a_key_cannot_follow_is_a_400_saying_why(admin_client, monkeypatch):
    varied_shop(3)
    monkeypatch.setattr(admin.site._registry[MODELS["salesdaily"]], "ordering", ["?"])

    response = admin_client.get(csv_url("salesdaily"))

    assert response.status_code == 400
    assert "cannot be exported in this order: random order has no key" in response.content.decode()


@pytest.mark.filterwarnings(NAIVE_DATES)
@hypothesis_settings(
    max_examples=fuzz_examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(model_name=st.sampled_from(REPORTS), data=st.data())
def test_any_query_string_gets_an_export_or_a_400_never_a_5xx(admin_client, model_name, data):
    if not Customer.objects.exists():  # once for all the examples
        varied_shop(4)
    keys = ["q", "o", "p", "e", "all", *(key for key, _ in _own_pairs(admin_client, model_name))]
    fields = data.draw(
        st.lists(st.tuples(st.one_of(st.sampled_from(keys), hostile_keys()), HOSTILE_VALUES), max_size=5),
        label="query",
    )

    with zeal_context():
        response = admin_client.get(f"{csv_url(model_name)}?{form_body(fields)}")
        body = b"".join(response.streaming_content) if response.streaming else response.content

    assert response.status_code in {200, 400}, body[:500]
    if response.status_code == 200:
        assert body.startswith(
            b",".join(f.attname.encode() for f in MODELS[model_name]._meta.concrete_fields)
        )


# --- What it costs, and that it streams -----------------------------------------------------------


@pytest.mark.parametrize("n", [5, 23])
def test_an_export_costs_two_queries_and_one_a_page_whatever_the_size(
    admin_client, django_assert_num_queries, settings, n
):
    settings.CSV_CHUNK_SIZE = 4
    varied_shop(n)
    query = f"q=Ada&o=3&{link(admin_client, 'customervalue', 'more than 1')}"
    found = len(listed_pks(admin_client, "customervalue", query))
    pages = found // 4 + 1  # the last one short (maybe empty): it ends the export

    # user; freshness; then each page, after the last one's key
    with django_assert_num_queries(2 + pages) as queries:
        rows = exported(admin_client, "customervalue", query)

    assert len(rows) - 1 == found
    pages_sql = [query["sql"] for query in queries.captured_queries[2:]]
    assert all("LIMIT 4" in sql and "OFFSET" not in sql and "COUNT(" not in sql for sql in pages_sql)


def test_the_rows_are_read_a_page_at_a_time_as_the_response_is_sent(admin_client, settings):
    settings.CSV_CHUNK_SIZE = 4
    varied_shop(10)

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(csv_url("customervalue"))
        assert isinstance(response, StreamingHttpResponse)
        assert len(queries) == 3  # user; freshness; the first page, read before the response starts
        lines = iter(response.streaming_content)
        for _ in range(1 + 4):  # the header and the first page's rows
            next(lines)
        assert len(queries) == 3
        next(lines)  # the second page's first row
        assert len(queries) == 4
        rest = list(lines)

    assert len(rest) == 10 - 4 - 1
    assert len(queries) == 5  # the third page: two rows, short, the last


# --- Property: any of the list's own queries, any order, any page size ----------------------------


def _own_pairs(client: Client, model_name: str) -> list[tuple[str, str]]:
    """Return the (key, value) pairs of the list's own links: its filters and its date hierarchy."""
    html = client.get(changelist(model_name)).content.decode()
    return sorted({pair for query, _ in LINK.findall(html) for pair in parse_qsl(unescape(query))})


@hypothesis_settings(
    max_examples=fuzz_examples(100),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(model_name=st.sampled_from(REPORTS), data=st.data())
def test_any_query_of_the_lists_own_exports_its_whole_queryset_in_order(admin_client, model_name, data):
    if not Customer.objects.exists():  # once for all the examples
        varied_shop(14)
    pairs = [pair for pair in _own_pairs(admin_client, model_name) if pair[0] not in {"o", "p"}]
    columns = len(admin.site._registry[MODELS[model_name]].list_display)
    ordering = data.draw(
        st.lists(st.tuples(st.integers(0, columns - 1), st.booleans()), max_size=3, unique_by=lambda c: c[0]),
        label="o",
    )
    fields = [
        *data.draw(st.lists(st.sampled_from(pairs), max_size=3), label="filters"),
        ("q", data.draw(st.sampled_from(["", "Ada", "bob 1", "Red", "socks", "example.com"]), label="q")),
    ]
    if ordering:
        fields.append(("o", ".".join(f"{'-' if down else ''}{column}" for column, down in ordering)))
    query = urlencode(fields)

    with zeal_context(), override_settings(CSV_CHUNK_SIZE=data.draw(st.integers(1, 5), label="page size")):
        listed = admin_client.get(f"{changelist(model_name)}?{query}")
        response = admin_client.get(f"{csv_url(model_name)}?{query}")

    if listed.status_code == 302:  # admin refuses the query (two date filters' ranges, say): "?e=1"
        assert response.status_code == 400
        return
    header, *rows = read_csv(response)
    column = header.index(MODELS[model_name]._meta.pk.attname)
    assert [row[column] for row in rows] == [str(row.pk) for row in listed.context["cl"].queryset]
