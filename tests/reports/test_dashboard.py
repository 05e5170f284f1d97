"""The staff dashboard at /admin/reports/dashboard/: who may see it, what it shows, what it costs."""

from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reports.services import reports_refresh
from tests.conftest import fuzz_examples
from tests.factories import CustomerFactory, OrderFactory, OrderItemFactory, UserFactory
from tests.reports.helpers import make_sales, noon
from tests.test_money import assert_shows

pytestmark = pytest.mark.django_db

URL = "/admin/reports/dashboard/"


@pytest.fixture
def shop():
    """Ten days of sales, one order a day, refreshed into the views."""
    orders = make_sales(10)
    reports_refresh()
    return orders


def staff(*permissions: str):
    user = UserFactory(is_staff=True)
    for codename in permissions:
        user.user_permissions.add(
            Permission.objects.get(codename=codename, content_type__app_label="reports")
        )
    return user


def test_the_dashboard_lives_at_admin_reports_dashboard():
    assert reverse("admin:reports_dashboard_changelist") == URL


def test_anonymous_visitors_get_the_admin_login_page(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith(f"{reverse('admin:login')}?next=")


def test_a_customer_without_staff_status_gets_the_admin_login_page(client):
    client.force_login(UserFactory())

    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_staff_without_the_reports_permission_get_403(client, shop):
    client.force_login(staff("view_salesdaily"))

    assert client.get(URL).status_code == 403


def test_staff_with_the_reports_permission_see_the_dashboard(client, shop):
    client.force_login(staff("view_dashboard"))

    response = client.get(URL)

    assert response.status_code == 200
    assert 'id="sales-chart"' in response.content.decode()


def test_the_admin_index_links_the_dashboard_for_staff_who_may_see_it(client, admin_client):
    assert f'href="{URL}"' in admin_client.get(reverse("admin:index")).content.decode()

    client.force_login(staff("view_salesdaily"))
    assert f'href="{URL}"' not in client.get(reverse("admin:index")).content.decode()


def test_the_kpis_add_up_today_the_last_7_and_30_days(admin_client, shop):
    CustomerFactory(created=noon(timezone.localdate() - timedelta(days=40)))
    reports_refresh()

    data = admin_client.get(URL).context["data"]

    today, week, month = data.kpis
    assert (today.orders, today.revenue) == (1, Decimal("20.00"))
    assert (week.orders, week.revenue) == (7, Decimal("140.00"))
    assert (month.orders, month.revenue, month.average_order_value) == (
        10,
        Decimal("200.00"),
        Decimal("20.00"),
    )
    # The shop's 10 customers were all created today; the one of 40 days ago is in no period.
    assert (today.new_customers, week.new_customers, month.new_customers) == (10, 10, 10)


def test_the_default_range_is_the_last_30_days_and_the_form_shows_it(admin_client, shop):
    response = admin_client.get(URL)

    today = timezone.localdate()
    filters = response.context["filters"]
    assert (filters.date_from, filters.date_to, filters.orders_over) == (today - timedelta(days=29), today, 5)
    html = response.content.decode()
    assert f'value="{today - timedelta(days=29):%Y-%m-%d}"' in html
    assert html.count("<rect ") == 30


def test_the_chart_has_one_bar_per_day_of_the_chosen_range(admin_client, shop):
    today = timezone.localdate()
    query = {"date_from": f"{today - timedelta(days=4):%Y-%m-%d}", "date_to": f"{today:%Y-%m-%d}"}

    response = admin_client.get(URL, query)

    assert response.status_code == 200
    days = [sale.day for sale in response.context["data"].sales]
    assert days == [today - timedelta(days=k) for k in range(4, -1, -1)]
    assert response.content.decode().count("<rect ") == 5
    assert "$100.00 from 5 orders over 5 days" in response.content.decode()


def test_top_customers_have_more_than_the_minimum_orders(admin_client, shop):
    loyal = CustomerFactory(name="Loyal Lou")
    for _ in range(6):
        OrderFactory(customer=loyal, status="delivered", total=Decimal("1.00"))
    occasional = CustomerFactory(name="Occasional Olga")
    for _ in range(5):
        OrderFactory(customer=occasional, status="paid", total=Decimal("100.00"))
    reports_refresh()

    default = admin_client.get(URL).context["data"].top_customers
    over_four = admin_client.get(URL, {"orders_over": 4}).context["data"].top_customers

    assert [row["name"] for row in default] == ["Loyal Lou"]
    assert [row["name"] for row in over_four] == ["Occasional Olga", "Loyal Lou"]


def test_top_products_and_categories_by_month_come_from_the_views(admin_client, shop):
    data = admin_client.get(URL).context["data"]

    # Equal revenue: the product created first (the one sold 1 at a time) comes first.
    assert [(row["units"], row["revenue"]) for row in data.top_products] == [
        (10, Decimal("100.00")),
        (20, Decimal("100.00")),
    ]
    assert sum(data.categories.totals) == Decimal("200.00")
    assert len(data.categories.rows) == 1


def test_the_category_table_escapes_names_and_shows_revenue_as_money(admin_client, shop):
    category = shop[0].items.first().product.category
    category.name = "<b>Tools & co</b>"
    category.save()
    reports_refresh()

    html = admin_client.get(URL).content.decode()

    assert "<td>&lt;b&gt;Tools &amp; co&lt;/b&gt;</td>" in html
    assert '<td class="number">$200.00</td></tr>' in html
    assert '<th class="number">$200.00</th></tr></tfoot>' in html


def test_every_amount_is_shown_as_money(admin_client):
    today = timezone.localdate()
    order = OrderFactory(status="paid", total=Decimal("1234.50"), created=noon(today))
    OrderItemFactory(order=order, quantity=1, unit_price=Decimal("1234.50"))
    reports_refresh()

    # Today only (a bar, a month), every customer.
    response = admin_client.get(
        URL, {"date_from": f"{today:%Y-%m-%d}", "date_to": f"{today:%Y-%m-%d}", "orders_over": 0}
    )

    html = response.content.decode()
    assert html.count('<dd class="kpi-revenue">$1,234.50</dd>') == 3  # today, 7 and 30 days
    assert html.count('<dd class="kpi-average">$1,234.50</dd>') == 3
    assert '<p id="sales-totals">$1,234.50 from 1 order over 1 day.</p>' in html
    assert f"<title>{today:%a %Y-%m-%d}: $1,234.50 from 1 order</title>" in html
    assert '<td class="number">1</td><td class="number">$1,234.50</td></tr>' in html  # top products
    assert (
        '<td class="number">1</td><td class="number">$1,234.50</td><td class="date">' in html
    )  # top customers
    # The category's month and total, then the month's and the table's.
    assert '<td class="number">$1,234.50</td><td class="number">$1,234.50</td></tr>' in html
    assert '<th class="number">$1,234.50</th><th class="number">$1,234.50</th></tr></tfoot>' in html
    assert '<text x="74" y="12.0" text-anchor="end" dominant-baseline="middle">$2k</text>' in html
    assert_shows(response, "$1,234.50")  # and no amount without its symbol


def test_a_period_without_orders_has_no_average_order(admin_client):
    reports_refresh()

    html = admin_client.get(URL).content.decode()

    assert html.count('<dd class="kpi-revenue">$0.00</dd>') == 3
    assert html.count('<dd class="kpi-average">\u2013</dd>') == 3


def test_every_block_says_what_is_live_and_what_is_as_of_the_refresh(admin_client, shop):
    today = timezone.localdate()

    html = admin_client.get(URL).content.decode()

    # Every block of the default range (the last 30 days) reaches today: counted live from it.
    assert html.count(f"From {today:%Y-%m-%d}: live, counted at ") == 5
    assert html.count(f"To {today - timedelta(days=1):%Y-%m-%d}: as of the refresh at ") == 5


def test_a_range_of_past_days_is_as_of_the_refresh_and_cached_until_the_next(admin_client, shop):
    today = timezone.localdate()
    query = {
        "date_from": f"{today - timedelta(days=9):%Y-%m-%d}",
        "date_to": f"{today - timedelta(days=1):%Y-%m-%d}",
    }

    html = admin_client.get(URL, query).content.decode()

    assert html.count("As of the refresh at ") == 4  # the KPIs still end today
    assert html.count(": live, counted at ") == 1


def test_before_any_refresh_the_dashboard_says_there_is_no_data_yet(admin_client):
    make_sales(3)

    response = admin_client.get(URL)

    assert response.status_code == 200
    assert response.content.decode().count("No data yet") == 5
    assert "Not refreshed yet" in response.content.decode()


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({"date_from": "yesterday"}, "Enter a valid date."),
        ({"date_to": "2024-02-30"}, "Enter a valid date."),
        ({"date_from": "2024-05-02", "date_to": "2024-05-01"}, "The start of the range is after its end."),
        ({"date_from": "2020-01-01", "date_to": "2024-01-01"}, "Choose a range of at most three years"),
        ({"orders_over": "-1"}, "Ensure this value is greater than or equal to 0."),
        ({"orders_over": "many"}, "Enter a whole number."),
        ({"orders_over": "99999999999999999999"}, "Ensure this value is less than or equal to 1000000."),
    ],
)
def test_bad_filters_get_a_form_error_and_the_default_view(admin_client, shop, query, error):
    response = admin_client.get(URL, query)

    assert response.status_code == 400
    assert error in response.content.decode()
    assert 'id="dashboard-form-errors"' in response.content.decode()
    assert response.context["filters"].date_to == timezone.localdate()


def test_a_range_of_exactly_three_years_is_allowed(admin_client, shop):
    response = admin_client.get(URL, {"date_from": "2021-01-01", "date_to": "2023-12-31"})

    assert response.status_code == 200
    assert len(response.context["data"].sales) == 1095


def test_only_one_date_given_makes_a_30_day_range_from_it(admin_client, shop):
    response = admin_client.get(URL, {"date_from": "2024-03-01"})

    filters = response.context["filters"]
    assert (filters.date_from.isoformat(), filters.date_to.isoformat()) == ("2024-03-01", "2024-03-30")


DASHBOARD_KEYS = st.sampled_from(["date_from", "date_to", "orders_over", "q", "o", "p"])
DASHBOARD_VALUES = st.one_of(
    st.text(max_size=30),
    st.dates().map(str),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["0001-01-01", "9999-12-31", "NaN", "1e999", "\x00", "'\";--"]),
)


@settings(
    max_examples=fuzz_examples(120),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(query=st.lists(st.tuples(DASHBOARD_KEYS, DASHBOARD_VALUES), max_size=5))
def test_any_query_string_gets_a_200_or_a_400_never_a_500(admin_client, shop, query):
    response = admin_client.get(f"{URL}?{urlencode(query)}")

    assert response.status_code in {200, 400}


@pytest.mark.parametrize("n", [3, 30])
def test_a_cold_dashboard_reads_each_block_once_whatever_the_data_size(
    admin_client, django_assert_num_queries, n
):
    make_sales(n)
    reports_refresh()

    # user; the state of the layers; KPIs (sales, new customers); sales by day; top products;
    # top customers; categories by month.
    with django_assert_num_queries(8) as captured:
        assert admin_client.get(URL).status_code == 200
    # The order tables only for the open period: from the window's end, by the created index.
    for query in captured.captured_queries[2:]:
        for order_table in ("accounts_order o", "accounts_customer c"):
            if f"FROM {order_table}" in query["sql"] or f"JOIN {order_table}" in query["sql"]:
                assert "recent_until::timestamp AT TIME ZONE 'UTC' FROM reports_reportwindow" in query["sql"]


@pytest.mark.parametrize("n", [3, 30])
def test_a_warm_dashboard_runs_no_sql_for_the_aggregates(admin_client, django_assert_num_queries, n):
    make_sales(n)
    reports_refresh()
    admin_client.get(URL)

    # Only the user: the session comes from Redis (cached_db), every block from the cache.
    with django_assert_num_queries(1):
        assert admin_client.get(URL).status_code == 200


def test_a_warm_dashboard_costs_staff_with_the_permission_only_their_auth_queries(
    client, shop, django_assert_num_queries
):
    client.force_login(staff("view_dashboard"))
    client.get(URL)

    # user, their permissions, their groups' permissions
    with django_assert_num_queries(3):
        assert client.get(URL).status_code == 200


def test_a_refresh_shows_on_the_next_request(admin_client, shop, django_capture_on_commit_callbacks):
    assert admin_client.get(URL).context["data"].kpis[0].orders == 1
    make_sales(1)

    with django_capture_on_commit_callbacks(execute=True):
        reports_refresh()

    assert admin_client.get(URL).context["data"].kpis[0].orders == 2


def test_without_redis_the_dashboard_renders_from_the_views(
    admin_client, shop, settings, django_assert_num_queries
):
    settings.CACHES = {"default": settings.CACHES["default"] | {"LOCATION": "redis://127.0.0.1:1/0"}}

    # user; the session, from the database since Redis is down; then the 7 queries of a cold dashboard
    for _ in range(2):
        with django_assert_num_queries(9):
            response = admin_client.get(URL)
        assert response.status_code == 200
        assert response.context["data"].kpis[1].orders == 7
