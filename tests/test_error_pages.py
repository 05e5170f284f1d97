"""With DEBUG off, 400, 403 (the CSRF failure too), 404 and 500 are the shop's own pages: its
header, and a way back home. 400 and 500 are rendered without the request, so they read no
session, user or cart: they must show when the session or the database is what failed.

Through real requests, with the URLs of this module: the shop's, and one view that fails.
"""

import logging

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import path, reverse

from shopsite import urls as shop_urls
from tests.accounts.helpers import put_in_cart
from tests.factories import CustomerFactory, ProductFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


def fail(request):
    raise RuntimeError("a bug the shop did not expect")


urlpatterns = [path("fail/", fail), *shop_urls.urlpatterns]
handler400 = shop_urls.handler400
handler500 = shop_urls.handler500

SHOP_HEADER = b'<a class="brand" href="/">shop<span>site</span></a>'
WAY_HOME = b'<a class="button" href="/">Back to the shop</a>'


@pytest.fixture(autouse=True)
def _debug_off(settings):
    settings.DEBUG = False


@pytest.fixture
def customer_client(client):
    client.force_login(CustomerFactory(user=UserFactory()).user)
    return client


def assert_shop_page(response, status: int, template: str) -> None:
    assert response.status_code == status
    assert template in [used.name for used in response.templates]
    assert SHOP_HEADER in response.content
    assert WAY_HOME in response.content


def test_404_is_the_shops_page_with_the_visitors_header(customer_client):
    response = customer_client.get("/no/such/page/")

    assert_shop_page(response, 404, "404.html")
    assert b"Orders</a>" in response.content  # rendered with the request: the customer is logged in


@pytest.mark.parametrize("n", [1, 20])
def test_404_queries_do_not_grow_with_the_cart(customer_client, django_assert_num_queries, n):
    put_in_cart(customer_client, {product.pk: 1 for product in ProductFactory.create_batch(n)})

    # the user (the session comes from Redis); the cart's size is counted in the session
    with django_assert_num_queries(1):
        response = customer_client.get("/no/such/page/")

    assert_shop_page(response, 404, "404.html")
    assert f'aria-label="{n} items"'.encode() in response.content


def test_404_of_a_product_that_is_not_sold_is_the_shops_page(client):
    response = client.get(reverse("catalog:product", args=[ProductFactory(is_active=False).slug]))

    assert_shop_page(response, 404, "404.html")


def test_403_is_the_shops_page(client):
    client.force_login(UserFactory(is_staff=True))  # staff without the permission to see products

    response = client.get(reverse("admin:catalog_product_changelist"))

    assert_shop_page(response, 403, "403.html")


def test_403_for_staff_with_the_permission_is_not_shown(client):
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_product"))
    client.force_login(staff)

    assert client.get(reverse("admin:catalog_product_changelist")).status_code == 200


def test_a_form_posted_without_its_csrf_token_gets_the_shops_expired_form_page():
    client = Client(enforce_csrf_checks=True)

    response = client.post(reverse("accounts:cart_add"), {"product_id": ProductFactory().pk, "quantity": 1})

    assert_shop_page(response, 403, "403_csrf.html")
    assert b"Your form expired, go back and try again" in response.content


def test_500_is_the_shops_page_rendered_without_the_session_or_the_database(
    customer_client, django_assert_num_queries
):
    customer_client.raise_request_exception = False

    with django_assert_num_queries(0):
        response = customer_client.get("/fail/")

    assert_shop_page(response, 500, "500.html")
    assert b"Orders</a>" not in response.content  # no user read: the header of a visitor


def test_400_for_a_host_the_shop_does_not_serve_is_the_shops_page_without_the_session(
    customer_client, django_assert_num_queries
):
    with django_assert_num_queries(0):
        response = customer_client.get("/", HTTP_HOST="evil.example")

    assert_shop_page(response, 400, "400.html")
    assert b"Orders</a>" not in response.content


def test_400_after_the_session_and_the_user_are_set_up_still_reads_neither(
    admin_client, django_assert_num_queries
):
    # The admin refuses a NUL in its query string after the session and auth middleware ran.
    with django_assert_num_queries(0):
        response = admin_client.get(reverse("admin:accounts_order_changelist") + "?q=%00")

    assert_shop_page(response, 400, "400.html")
    assert b"Orders</a>" not in response.content


@pytest.mark.parametrize(
    ("refusal", "send", "says"),
    [
        ("DisallowedHost", lambda client: client.get("/", HTTP_HOST="evil.example"), "evil.example"),
        (
            "TooManyFieldsSent",
            lambda client: client.post(reverse("accounts:cart_add"), {f"f{n}": "1" for n in range(1_001)}),
            "number of GET/POST parameters exceeded",
        ),
    ],
    ids=["bad-host", "too-many-fields"],
)
def test_a_request_refused_as_it_should_be_is_logged_as_one_warning_line_not_an_error(
    client, caplog, refusal, send, says
):
    seen = []
    handler = logging.Handler()
    handler.emit = seen.append  # what a handler of the logger itself receives, after its filters
    logger = logging.getLogger(f"django.security.{refusal}")
    logger.addHandler(handler)
    try:
        with caplog.at_level(logging.INFO):
            response = send(client)
    finally:
        logger.removeHandler(handler)

    assert response.status_code == 400
    assert [record.levelno for record in caplog.records if record.levelno >= logging.ERROR] == []
    (record,) = seen
    assert (record.levelname, record.exc_info, record.exc_text) == ("WARNING", None, None)
    assert says in record.getMessage()
    assert "\n" not in logging.Formatter().format(record)


def test_an_admin_query_string_refused_with_a_400_is_logged_in_one_line(admin_client, caplog):
    with caplog.at_level(logging.INFO):
        response = admin_client.get(reverse("admin:accounts_order_changelist") + "?q=%00")

    assert response.status_code == 400
    assert [(record.levelname, record.exc_info) for record in caplog.records] == [("WARNING", None)]


def test_the_error_templates_render_without_a_request_or_a_database(django_assert_num_queries):
    from django.template.loader import render_to_string

    with django_assert_num_queries(0):
        pages = {name: render_to_string(name).encode() for name in ["400.html", "500.html"]}

    for page in pages.values():
        assert SHOP_HEADER in page
        assert WAY_HOME in page
