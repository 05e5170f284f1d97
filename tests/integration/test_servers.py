"""The shop served as production serves it, under each server: gunicorn with sync workers
(WEB_SERVER=wsgi) and with uvicorn's workers (WEB_SERVER=asgi), behind nginx, on the test database
through the stack's poolers. A customer browses, signs in, fills a cart and checks out; staff sign
in to the admin; the live endpoint answers (on the event loop, under ASGI)."""

import json
import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from accounts.models import Order
from catalog.models import Product
from tests.factories import (
    AddressFactory,
    CategoryFactory,
    CustomerFactory,
    DeliveryOptionFactory,
    ProductFactory,
    UserFactory,
)
from tests.integration.faults import wait_for_replay
from tests.integration.topology import Visitor, served

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True, databases="__all__")]

PASSWORD = "correct horse battery"  # UserFactory's


@pytest.fixture(scope="module", params=["wsgi", "asgi"])
def site(request, tmp_path_factory, django_db_setup):
    """The served site, on the test database: created first (django_db_setup), then named to gunicorn."""
    with served(tmp_path_factory.mktemp(request.param), workers=2, server=request.param) as running:
        running.server = request.param
        yield running


def served_password() -> str:
    """PASSWORD hashed as the production settings the served site runs can check it (the test
    settings' fast hasher is not among theirs); few iterations: the check is not what is tested."""
    return PBKDF2PasswordHasher().encode(PASSWORD, "servedsalt", iterations=1000)


@pytest.fixture
def shop():
    shirts = CategoryFactory(name="Shirts", slug="shirts", facets=["color"])
    oxford = ProductFactory(
        category=shirts,
        name="Oxford shirt",
        slug="oxford",
        stock=5,
        price=Decimal("40.00"),
        details={"color": "red"},
    )
    customer = CustomerFactory(user=UserFactory(username="ada"), email="ada@example.com")
    AddressFactory(customer=customer)
    DeliveryOptionFactory(name="Standard delivery", price=Decimal("4.95"))
    staff = UserFactory(username="grace", is_staff=True, is_superuser=True)
    for user in (customer.user, staff):
        user.password = served_password()
        user.save(update_fields=["password"])
    wait_for_replay()
    return {"product": oxford, "customer": customer, "staff": staff}


def test_a_customer_browses_signs_in_and_checks_out(site, shop):
    visitor = Visitor(site.site)
    assert "Shirts" in visitor.get("/")
    assert visitor.status == 200
    assert "Oxford shirt" in visitor.get("/c/shirts/?color=red")
    assert "Oxford shirt" in visitor.get("/p/oxford/")
    visitor.get("/account/login/")
    visitor.post("/account/login/", {"username": "ada", "password": PASSWORD})
    assert visitor.status == 200
    assert "Log out" in visitor.get("/")
    cart = visitor.post("/cart/add/", {"product_id": str(shop["product"].pk), "quantity": "2"})
    assert visitor.status == 200
    assert "Oxford shirt" in cart
    checkout = visitor.get("/checkout/")
    # "Place order", with the address and the delivery the page checked
    chosen = {
        name: re.search(rf'name="{name}" value="([^"]+)"[^>]* checked', checkout)[1]
        for name in ("address", "delivery")
    }
    confirmation = re.search(r'name="confirmation" value="([^"]+)"', checkout)[1]
    placed = visitor.post("/checkout/", {"confirmation": confirmation, **chosen})
    assert visitor.status == 200
    order = Order.objects.get(customer=shop["customer"])
    assert f"Order #{order.pk}" in placed
    assert order.total == Decimal("80.00") + Decimal("4.95")
    assert Product.objects.get(pk=shop["product"].pk).stock == 3
    assert "Oxford shirt" in visitor.get("/account/orders/")


def test_staff_sign_in_to_the_admin(site, shop):
    staff = Visitor(site.site)
    staff.get("/admin/login/")
    staff.post("/admin/login/?next=/admin/", {"username": "grace", "password": PASSWORD, "next": "/admin/"})
    assert staff.status == 200
    assert "Log out" in staff.get("/admin/")
    assert "Oxford shirt" in staff.get("/admin/catalog/product/")
    assert staff.status == 200
    staff.get("/admin/reports/dashboard/")
    assert staff.status == 200


def test_the_live_endpoint_answers_behind_nginx(site, shop):
    visitor = Visitor(site.app)  # gunicorn itself: its worker names itself
    text = visitor.get(f"/live/stock?ids={shop['product'].pk}")
    document = json.loads(text)
    assert visitor.headers["server"] == {"asgi": "uvicorn", "wsgi": "gunicorn"}[site.server]
    assert document["products"][0]["stock"] == 5
    through_nginx = Visitor(site.site)
    through_nginx.get(f"/live/stock?ids={shop['product'].pk}")
    assert through_nginx.status == 200
    assert through_nginx.headers["cache-control"] == "no-store"
    if settings.REPLICA_ALIASES:
        assert visitor.headers.get("server-timing") is None  # production: SERVER_TIMING off
