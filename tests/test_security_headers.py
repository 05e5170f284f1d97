"""Every response carries the Content-Security-Policy, and no page needs more than it allows: the
HTML that the templates and the code render has no inline script, style or event handler, and
loads nothing from another site."""

from __future__ import annotations

import copy
import socket
from html.parser import HTMLParser

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import connections
from django.test import Client
from django.urls import reverse
from zeal import zeal_ignore

from reports.admin import Dashboard, DatabaseHealth
from reports.services import reports_refresh
from tests.accounts.helpers import put_in_cart
from tests.factories import (
    AddressFactory,
    CategoryFactory,
    CustomerFactory,
    DeliveryOptionFactory,
    OrderFactory,
    OrderItemFactory,
    ProductFactory,
    UserFactory,
)
from tests.test_deploy_settings import CONTENT_SECURITY_POLICY, policy

pytestmark = pytest.mark.django_db(databases=["default", *settings.REPLICA_ALIASES])

PASSWORD = "correct horse battery"  # tests.factories.UserFactory's
# Script types a browser does not run: data for scripts, which the policy does not govern.
DATA_SCRIPT_TYPES = {"application/json", "application/ld+json"}
# Attributes that load a resource into the page (links and form targets are checked apart).
LOADING_ATTRIBUTES = {"src", "srcset", "poster", "data"}


class InlineCode(HTMLParser):
    """Collect what a Content-Security-Policy without 'unsafe-inline' or other hosts would block."""

    def __init__(self):
        super().__init__()
        self.blocked: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attributes.items():
            if name == "style":
                self.blocked.append(f'<{tag} style="{value}">')
            elif name.startswith("on"):
                self.blocked.append(f"<{tag} {name}=...>")
            elif _runs_script(value or "") or (_loads(tag, name) and _elsewhere(value or "")):
                self.blocked.append(f"<{tag} {name}={value}>")
        if tag == "style":
            self.blocked.append("<style> element")
        self._in_script = (
            tag == "script" and "src" not in attributes and attributes.get("type") not in DATA_SCRIPT_TYPES
        )

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.blocked.append(f"inline <script>: {data.strip()[:60]}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False


def _runs_script(value: str) -> bool:
    return value.strip().lower().startswith("javascript:")


def _loads(tag: str, attribute: str) -> bool:
    """Return whether an attribute names something the page loads or sends a form to."""
    return attribute in LOADING_ATTRIBUTES or (tag, attribute) == ("link", "href") or attribute == "action"


def _elsewhere(url: str) -> bool:
    """Return whether a URL points at another site (the shop loads everything from itself)."""
    return url.startswith(("http:", "https:", "//")) and not url.startswith(
        ("http://testserver/", "//testserver/")
    )


def blocked_by_the_policy(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.blocked


def test_the_scanner_finds_what_the_policy_blocks():
    html = """<p style="color:red">x</p><style>p{}</style><script>alert(1)</script>
        <a onclick="go()">y</a><a href="javascript:go()">z</a><img src="https://cdn.example/x.png">
        <script src="/static/a.js"></script><script type="application/json">{"a": 1}</script>
        <img src="data:image/png;base64,AAAA"><a href="https://elsewhere.example/">a link</a>"""

    assert blocked_by_the_policy(html) == [
        '<p style="color:red">',
        "<style> element",
        "inline <script>: alert(1)",
        "<a onclick=...>",
        "<a href=javascript:go()>",
        "<img src=https://cdn.example/x.png>",
    ]


@pytest.fixture
def shop():
    category = CategoryFactory(slug="shirts", facets=["color"])
    product = ProductFactory(category=category, slug="blue-shirt", details={"color": "blue"})
    ProductFactory(category=category, details={"color": "red"})  # a related product
    customer = CustomerFactory(user=UserFactory(username="ada"))
    order = OrderFactory(customer=customer, status="paid")
    OrderItemFactory(order=order, product=product)
    address = AddressFactory(customer=customer)
    DeliveryOptionFactory()
    AccessAttempt.objects.create(
        username="mallory", ip_address="10.0.0.1", user_agent="x", failures_since_start=1
    )
    AccessFailureLog.objects.create(username="mallory", ip_address="10.0.0.1", user_agent="x")
    Group.objects.create(name="Packers")
    reports_refresh()  # the dashboard draws its chart and tables
    ada, boss = Client(), Client()
    with zeal_ignore():  # set-up, not the code under test
        ada.force_login(customer.user)
        boss.force_login(UserFactory(is_staff=True, is_superuser=True))
    put_in_cart(ada, {product.pk: 1})
    return {
        "category": category,
        "product": product,
        "order": order,
        "address": address,
        "ada": ada,
        "boss": boss,
    }


# Each page as the one who may see it: a visitor, ada (a customer with a cart and an order).
STOREFRONT = {
    "home": ("visitor", lambda shop: reverse("catalog:home")),
    "category": ("visitor", lambda shop: reverse("catalog:category", args=["shirts"]) + "?color=blue"),
    "product": ("visitor", lambda shop: reverse("catalog:product", args=["blue-shirt"])),
    "search": ("visitor", lambda shop: reverse("catalog:search") + "?q=shrit&category=shirts"),
    "login": ("visitor", lambda shop: reverse("accounts:login")),
    "signup": ("visitor", lambda shop: reverse("accounts:signup")),
    "admin login": ("visitor", lambda shop: reverse("admin:login")),
    "not found": ("visitor", lambda shop: "/no-such-page/"),
    "cart": ("ada", lambda shop: reverse("accounts:cart")),
    "checkout": ("ada", lambda shop: reverse("accounts:checkout")),
    "orders": ("ada", lambda shop: reverse("accounts:orders")),
    "order": ("ada", lambda shop: reverse("accounts:order", args=[shop["order"].pk])),
    "account": ("ada", lambda shop: reverse("accounts:account")),
    "profile": ("ada", lambda shop: reverse("accounts:profile")),
    "addresses": ("ada", lambda shop: reverse("accounts:addresses")),
    "address new": ("ada", lambda shop: reverse("accounts:address_new")),
    "address edit": ("ada", lambda shop: reverse("accounts:address_edit", args=[shop["address"].pk])),
    "password change": ("ada", lambda shop: reverse("accounts:password_change")),
    "password changed": ("ada", lambda shop: reverse("accounts:password_change_done")),
    "password reset": ("visitor", lambda shop: reverse("accounts:password_reset")),
    "password reset sent": ("visitor", lambda shop: reverse("accounts:password_reset_done")),
    "password reset link": (
        "visitor",
        lambda shop: reverse("accounts:password_reset_confirm", args=["MQ", "not-a-token"]),
    ),
    "password reset complete": ("visitor", lambda shop: reverse("accounts:password_reset_complete")),
    "admin index": ("boss", lambda shop: reverse("admin:index")),
    "dashboard": ("boss", lambda shop: reverse("admin:reports_dashboard_changelist")),
    "database health": ("boss", lambda shop: reverse("admin:reports_databasehealth_changelist")),
}
# The pages that are no model's list: each is above, by its own URL.
ADMIN_MODELS = sorted(
    model._meta.label_lower for model in admin.site._registry if model not in {Dashboard, DatabaseHealth}
)


def _assert_allowed_by_the_policy(response, url: str) -> None:
    assert response.status_code in {200, 404}, (url, response.status_code)
    assert blocked_by_the_policy(response.content.decode()) == [], url
    assert policy(response["Content-Security-Policy"]) == CONTENT_SECURITY_POLICY, url


@pytest.mark.parametrize("page", STOREFRONT)
def test_a_page_renders_nothing_the_policy_blocks_and_carries_it(shop, page):
    who, url_of = STOREFRONT[page]
    client = shop.get(who, Client())
    url = url_of(shop)

    _assert_allowed_by_the_policy(client.get(url), url)


@pytest.mark.parametrize("view", ["changelist", "change", "add"])
@pytest.mark.parametrize("label", ADMIN_MODELS)
def test_an_admin_page_renders_nothing_the_policy_blocks_and_carries_it(shop, label, view):
    model = next(model for model in admin.site._registry if model._meta.label_lower == label)
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}"
    if view == "change":
        url = reverse(name, args=[model._default_manager.order_by("pk").first().pk])
    else:
        url = reverse(name)

    # On a user's page Django reads two users, the one logged in and the one shown: no N+1.
    with zeal_ignore([{"model": "accounts.User", "field": "get()"}]):
        response = shop["boss"].get(url)

    if view == "add" and response.status_code == 403:  # read-only: the reports, the throttling log
        return
    _assert_allowed_by_the_policy(response, url)


def test_the_dashboard_chart_is_drawn_without_inline_style(shop):
    response = shop["boss"].get(reverse("admin:reports_dashboard_changelist"))

    assert '<svg id="sales-chart"' in response.content.decode()
    assert "shopsite/dashboard.css" in response.content.decode()  # its styles, from a file


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _lockout(client: Client):
    for _ in range(5):
        response = client.post(reverse("accounts:login"), {"username": "ada", "password": "wrong"})
    return response


def _outage(client: Client):
    """Log in with the primary unreachable: the 503 page of shopsite.db.outage."""
    primary = connections["default"]
    connections["default"] = type(primary)(
        copy.deepcopy(primary.settings_dict) | {"PORT": _closed_port()}, "default"
    )
    try:
        return client.post(reverse("accounts:login"), {"username": "ada", "password": PASSWORD})
    finally:
        connections["default"] = primary


RESPONSES = {
    "a static file": (200, lambda client: client.get("/static/shopsite/shop.css")),
    "the favicon redirect": (302, lambda client: client.get("/favicon.ico")),
    "/healthz (JSON)": (200, lambda client: client.get("/healthz")),
    "a 404": (404, lambda client: client.get("/no-such-page/")),
    "a 405": (405, lambda client: client.get(reverse("accounts:cart_add"))),
    "a POST without its CSRF token": (
        403,
        lambda client: Client(enforce_csrf_checks=True).post(reverse("accounts:cart_add")),
    ),
    "the lockout page": (429, _lockout),
    "the outage page": (503, _outage),
}


@pytest.mark.parametrize("kind", RESPONSES)
def test_every_kind_of_response_carries_the_policy(client, kind):
    UserFactory(username="ada")
    status, request = RESPONSES[kind]
    client = Client(raise_request_exception=False)

    response = request(client)

    assert response.status_code == status
    assert policy(response["Content-Security-Policy"]) == CONTENT_SECURITY_POLICY
