"""The report views in admin: read-only changelists, and CSV exports streamed at a fixed cost."""

import csv
import io
import re
import warnings

import pytest
from asgiref.sync import async_to_sync
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.http import StreamingHttpResponse
from django.test import AsyncClient
from django.urls import reverse

from reports.models import REPORT_MODELS, CategoryMonthly, CustomerValue, ProductSales, RefreshLog, SalesDaily
from reports.services import reports_refresh
from shopsite.money import money
from tests.factories import UserFactory
from tests.reports.helpers import make_sales

pytestmark = pytest.mark.django_db

REPORTS = [model._meta.model_name for model in REPORT_MODELS.values()]


def changelist(model_name: str) -> str:
    return reverse(f"admin:reports_{model_name}_changelist")


def csv_url(model_name: str) -> str:
    return reverse(f"admin:reports_{model_name}_csv")


def make_shop(n: int) -> None:
    """n days of sales by n customers, refreshed into the views."""
    make_sales(n)
    reports_refresh()


def read_csv(response: StreamingHttpResponse) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


# Each after the user and the view's freshness ("data as of", and whether it can be read at all).
CHANGELIST_QUERIES = {
    # filtered count, full count, page, date hierarchy's range and its dates
    "salesdaily": 2 + 5,
    "customersdaily": 2 + 5,
    # filtered count only (show_full_result_count off), page, the category filter's choices
    "productsales": 2 + 3,
    # filtered count, page
    "customervalue": 2 + 2,
    # filtered count, full count, page, date hierarchy's range and dates, the category filter's choices
    "categorymonthly": 2 + 6,
}


@pytest.mark.parametrize("model_name", REPORTS)
@pytest.mark.parametrize("n", [3, 30])
def test_report_changelist_queries_do_not_grow(admin_client, django_assert_num_queries, model_name, n):
    make_shop(n)

    with django_assert_num_queries(CHANGELIST_QUERIES[model_name]):
        response = admin_client.get(changelist(model_name))

    assert response.status_code == 200
    assert "Past days as of the refresh at " in response.content.decode()
    assert f'href="{csv_url(model_name)}"' in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_under_asgi_a_csv_export_streams_the_same_rows_without_reading_them_whole(admin_user, settings):
    """Through Django's ASGI handler: an async iterator of batches, not a sync iterator that
    Django would read whole into memory first (and warn about)."""
    settings.CSV_CHUNK_SIZE = 7
    make_shop(40)
    client = AsyncClient()
    async_to_sync(client.aforce_login)(admin_user)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "must consume synchronous iterators" would fail here
        response = async_to_sync(client.get)(csv_url("customervalue"))

        async def body():
            return b"".join([part async for part in response.streaming_content])

        content = async_to_sync(body)()

    assert response.status_code == 200
    assert response.is_async
    rows = list(csv.reader(io.StringIO(content.decode())))
    assert len(rows) == 41
    assert len({row[0] for row in rows[1:]}) == 40


@pytest.mark.parametrize("model_name", REPORTS)
@pytest.mark.parametrize("n", [3, 30])
def test_csv_export_streams_every_row_in_three_queries_whatever_the_size(
    admin_client, django_assert_num_queries, model_name, n
):
    make_shop(n)
    model = next(model for model in REPORT_MODELS.values() if model._meta.model_name == model_name)

    # user; freshness; the rows, one page of CSV_CHUNK_SIZE by key
    with django_assert_num_queries(3):
        response = admin_client.get(csv_url(model_name))
        rows = read_csv(response)

    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(f'attachment; filename="{model._meta.db_table[8:]}-')
    assert rows[0] == [field.attname for field in model._meta.concrete_fields]
    assert len(rows) - 1 == model.objects.count()


def test_csv_export_of_sales_by_day_has_the_views_values(admin_client):
    make_shop(2)

    rows = read_csv(admin_client.get(csv_url("salesdaily")))

    assert rows[0] == ["day", "orders", "items", "revenue", "average_order_value"]
    assert [row[1:] for row in rows[1:]] == [["1", "3", "20.00", "20.00"]] * 2


def test_a_csv_export_streams_a_large_report_in_chunks(admin_client, django_assert_num_queries, settings):
    settings.CSV_CHUNK_SIZE = 7
    make_shop(40)

    # user; freshness; 40 rows in pages of 7, each after the last one's key (the sixth is short)
    with django_assert_num_queries(2 + 6) as queries:
        rows = read_csv(admin_client.get(csv_url("customervalue")))

    assert len(rows) == 41
    customer_ids = [int(row[0]) for row in rows[1:]]
    assert len(set(customer_ids)) == 40  # no row twice, none lost at a page's edge
    pages = [query["sql"] for query in queries.captured_queries[2:]]
    assert all("LIMIT 7" in sql and "OFFSET" not in sql and "CURSOR" not in sql for sql in pages)


@pytest.mark.parametrize("model_name", REPORTS)
def test_reports_cannot_be_added_changed_or_deleted(admin_client, model_name):
    make_shop(2)
    model = next(model for model in REPORT_MODELS.values() if model._meta.model_name == model_name)
    pk = model.objects.values_list("pk", flat=True).first()

    assert admin_client.get(reverse(f"admin:reports_{model_name}_add")).status_code == 403
    assert admin_client.post(reverse(f"admin:reports_{model_name}_delete", args=[pk])).status_code == 403
    response = admin_client.post(reverse(f"admin:reports_{model_name}_change", args=[pk]), {})
    assert response.status_code == 403
    html = admin_client.get(changelist(model_name)).content.decode()
    assert 'name="action"' not in html
    assert reverse(f"admin:reports_{model_name}_add") not in html


def test_refresh_log_is_read_only_and_filterable(admin_client, django_assert_num_queries):
    make_shop(2)
    logs = list(RefreshLog.objects.filter(view="reports_sales_recent"))

    # user, filtered count, page of refreshes, date hierarchy's range and dates
    with django_assert_num_queries(5):
        response = admin_client.get(
            reverse("admin:reports_refreshlog_changelist"), {"view": "reports_sales_recent"}
        )
    assert response.status_code == 200
    # The first refresh counts the recent views twice (all history, then the recent days alone).
    assert list(response.context["cl"].result_list) == logs
    assert len(logs) == 2
    assert admin_client.get(reverse("admin:reports_refreshlog_add")).status_code == 403


def test_reports_are_sortable_by_any_column(admin_client):
    make_shop(3)

    response = admin_client.get(changelist("salesdaily"), {"o": "0"})  # by day, oldest first

    days = [row.day for row in response.context["cl"].result_list]
    assert days == sorted(days)


def test_product_sales_are_searchable_by_name_or_sku(admin_client):
    make_shop(2)
    product = ProductSales.objects.order_by("product_id").first()

    response = admin_client.get(changelist("productsales"), {"q": product.sku})

    assert [row.product_id for row in response.context["cl"].result_list] == [product.product_id]
    assert reverse("admin:catalog_product_change", args=[product.product_id]) in response.content.decode()


def test_customer_value_filters_customers_by_orders(admin_client):
    make_shop(3)

    response = admin_client.get(changelist("customervalue"), {"orders_over": "1"})

    assert list(response.context["cl"].result_list) == []
    assert CustomerValue.objects.count() == 3


def test_category_monthly_is_filterable_by_category(admin_client):
    make_shop(2)
    name = CategoryMonthly.objects.values_list("category_name", flat=True).first()

    response = admin_client.get(changelist("categorymonthly"), {"category_name": name})

    assert response.status_code == 200
    assert {row.category_name for row in response.context["cl"].result_list} == {name}


def test_an_unrefreshed_report_says_so_instead_of_failing(admin_client):
    response = admin_client.get(changelist("salesdaily"))

    assert response.status_code == 200
    assert "was never refreshed" in response.content.decode()
    assert admin_client.get(csv_url("salesdaily")).status_code == 409


def test_staff_need_the_reports_view_permission(client):
    make_shop(2)
    user = UserFactory(is_staff=True)
    client.force_login(user)
    assert client.get(changelist("salesdaily")).status_code == 403
    assert client.get(csv_url("salesdaily")).status_code == 403

    user.user_permissions.add(Permission.objects.get(codename="view_salesdaily"))
    client.force_login(user)
    assert client.get(changelist("salesdaily")).status_code == 200
    assert client.get(csv_url("salesdaily")).status_code == 200
    assert SalesDaily.objects.count() == 2


MONEY_COLUMNS = [
    ("salesdaily", "revenue"),
    ("salesdaily", "average_order_value"),
    ("productsales", "revenue"),
    ("productsales", "average_unit_price"),
    ("customervalue", "total_spent"),
    ("categorymonthly", "revenue"),
]


@pytest.mark.parametrize(("model_name", "field"), MONEY_COLUMNS)
def test_money_columns_show_money_and_sort_by_their_field(admin_client, model_name, field):
    from tests.reports.test_exports import varied_shop

    varied_shop(8)
    model_admin = admin.site._registry[
        next(m for m in REPORT_MODELS.values() if m._meta.model_name == model_name)
    ]
    column = next(
        n for n, entry in enumerate(model_admin.list_display) if getattr(entry, "__name__", entry) == field
    )

    for direction in ("", "-"):
        response = admin_client.get(changelist(model_name), {"o": f"{direction}{column}"})
        amounts = [getattr(row, field) for row in response.context["cl"].result_list]
        assert amounts == sorted(amounts, reverse=direction == "-")
        html = response.content.decode()
        cells = re.findall(rf'<td class="field-{field}">([^<]*)</td>', html)
        assert cells == [money(amount) for amount in amounts]
        assert all(re.fullmatch(r"\$\d{1,3}(,\d{3})*\.\d\d", cell) for cell in cells)
        assert f'class="sortable column-{field} sorted' in html
