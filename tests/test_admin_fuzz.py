"""Every admin changelist answers any query string, as a superuser, without a 5xx.

The models come from `admin.site._registry`, so a newly registered model is swept too. The keys
are each changelist's own (read from the links of its page: filters, date hierarchy, sorting,
paging, search), ORM-looking ones and any text; the values are tests/strategies.py's hostile
ones (NUL bytes, quotes, NaN, 10,000 characters...). Admin turns query parameters into filters
without a form, so this is where a value PostgreSQL refuses would become a 500.
"""

import re
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.conf import settings
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from zeal import zeal_context

from reports.services import reports_refresh
from tests.conftest import fuzz_examples
from tests.factories import (
    CategoryFactory,
    CustomerFactory,
    OrderFactory,
    OrderItemFactory,
    ProductFactory,
    UserFactory,
)
from tests.reports.helpers import make_sales
from tests.strategies import HOSTILE_VALUES, form_body, hostile_keys

# The replicas too: the database health page asks them (in tests they mirror `default`).
pytestmark = pytest.mark.django_db(databases=["default", *settings.REPLICA_ALIASES])

MODELS = sorted(admin.site._registry, key=lambda model: model._meta.label_lower)
QUERY_LINK = re.compile(r'href="\?([^"#]*)"')


def _changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


@pytest.fixture
def superuser_client():
    """Return a superuser's client, with a row in every table the changelists list and filter."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    category = CategoryFactory(slug="shirts", facets=["color"])
    product = ProductFactory(category=category, details={"color": "red"})
    OrderItemFactory(order=OrderFactory(customer=CustomerFactory(user=UserFactory())), product=product)
    make_sales(2)
    reports_refresh()
    AccessAttempt.objects.create(
        username="mallory", ip_address="10.0.0.1", user_agent="x", failures_since_start=1
    )
    AccessFailureLog.objects.create(username="mallory", ip_address="10.0.0.1", user_agent="x")
    AccessLog.objects.create(username="alice", ip_address="10.0.0.2", user_agent="x")
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


_known: dict[str, tuple[list[str], list[str]]] = {}


def _own_keys_and_values(client: Client, url: str) -> tuple[list[str], list[str]]:
    """Return the query keys and values the changelist's own links use (filters, sorting, paging)."""
    if url not in _known:
        page = client.get(url).content.decode()
        pairs = [pair for query in QUERY_LINK.findall(page) for pair in parse_qsl(unescape(query))]
        keys = sorted({key for key, _ in pairs} | {"q", "o", "p", "e", "_to_field", "_popup", "all"})
        _known[url] = keys, sorted({value for _, value in pairs}) or [""]
    return _known[url]


# A date typed in a query string reaches a DateTimeField naive; Django warns and reads it in the
# current time zone (UTC): an answer, not an error, though this suite turns RuntimeWarnings into errors.
@pytest.mark.filterwarnings("ignore:DateTimeField .* received a naive datetime:RuntimeWarning")
@hypothesis_settings(
    max_examples=fuzz_examples(300),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(model=st.sampled_from(MODELS), data=st.data())
def test_every_admin_changelist_answers_any_query_string_without_a_5xx(superuser_client, model, data):
    url = _changelist(model)
    keys, values = _own_keys_and_values(superuser_client, url)
    fields = data.draw(
        st.lists(
            st.tuples(
                st.one_of(st.sampled_from(keys), hostile_keys()),
                st.one_of(st.sampled_from(values), HOSTILE_VALUES),
            ),
            max_size=6,
        ),
        label="query",
    )

    with zeal_context():  # a fresh N+1 detector per request: the same page twice is no N+1
        response = superuser_client.get(f"{url}?{form_body(fields)}")

    assert response.status_code < 500, f"{url}?{form_body(fields)}"
    if response.status_code in {301, 302}:
        assert not urlsplit(response["Location"]).netloc


def test_the_sweep_covers_every_registered_model_and_reads_its_filters(superuser_client):
    keys, _ = _own_keys_and_values(superuser_client, reverse("admin:accounts_order_changelist"))

    assert len(MODELS) == len(admin.site._registry) >= 16
    assert {"status__exact", "created__year", "q", "o"} <= set(keys)


@pytest.mark.parametrize(
    "query",
    [
        "accounts/order/?q=%00",
        "accounts/order/?status__exact=%00",
        "accounts/order/?created__year=%00",
        "accounts/order/?created__year=2024&created__month=%00",
        "accounts/order/?created__gte=%00",
        "catalog/product/?price__gte=%00",
        "catalog/product/?color=%00",
        "catalog/product/?color=r%00ed",
        "catalog/category/?q=a%00b",
        "accounts/customer/?level__exact=%00",
        "axes/accessattempt/?q=%00",
        "catalog/product/?%00=1",
        "autocomplete/?app_label=accounts&model_name=customer&field_name=user&term=%00",
        # The date hierarchy overflows on a number no date has.
        "accounts/order/?created__year=2147483648",
        "accounts/order/?created__year=2024&created__month=-99999999999999999999",
        "axes/accesslog/?attempt_time__year=-2147483649",
        "reports/categorymonthly/?month__year=21959906278",
        # The year 9999 is a date, but its end (the hierarchy's upper bound) is not.
        "reports/refreshlog/?started__year=9999",
        "accounts/order/?created__year=9999&created__month=12",
        "accounts/order/?created__year=9999&created__month=12&created__day=31",
    ],
)
def test_admin_query_strings_admin_would_fail_on_are_a_400_in_the_shops_page(superuser_client, query):
    response = superuser_client.get(f"{settings.ADMIN_URL_PREFIX}{query}")

    assert response.status_code == 400
    assert b'class="brand"' in response.content


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("?status__exact=paid&q=%25", 200),
        ("?created__year=2024&created__month=12", 200),
        ("?created__year=9998&created__month=12&created__day=31", 200),  # the last day with an end
        ("?created__year=99999999999999999999" + "9" * 5000, 302),  # not a number int() reads: ?e=1
        ("?created__year=abc", 302),
    ],
)
def test_other_admin_query_strings_are_answered_by_admin_as_before(superuser_client, query, status):
    response = superuser_client.get(reverse("admin:accounts_order_changelist") + query)

    assert response.status_code == status
