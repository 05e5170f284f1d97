"""Who may open what: every URL of the site, built from the URL resolver, for every kind of visitor.

Roles: anonymous, customer A, customer B, staff without any permission, staff with the reports'
permissions, superuser. Each URL has the answer each role gets (200, a redirect to a login page,
403, 404, 405). Every named URL outside the admin must have an entry; the admin is covered per
registered model (changelist, add, change, delete, history, and its own URLs such as CSV exports)
plus its site-wide pages, and every admin URL name must be one of those. A new URL or a newly
registered model without an entry fails `test_every_url_has_an_entry`, naming it.

The same sweep shows that no GET writes: no row inserted, updated or deleted in any table
(PostgreSQL's own per-transaction counters), and no session cart changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, path, reverse
from django.urls.resolvers import RegexPattern
from zeal import zeal_ignore

from accounts.models import Address, Customer, Order
from catalog.models import Category, Product
from reports.models import REPORT_MODELS, Dashboard
from reports.services import reports_refresh
from tests.accounts.helpers import cart_of, put_in_cart
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

# The replicas too: /healthz queries them (in tests they mirror `default`).
pytestmark = pytest.mark.django_db(databases=["default", *settings.REPLICA_ALIASES])

# On a user's admin pages Django reads two users, the one logged in and the one shown, with two
# .get() calls that django-zeal (which shows only the project's frames) takes for an N+1.
TWO_USERS_ARE_NO_N_PLUS_ONE = [{"model": "accounts.User", "field": "get()"}]
ROLES = ("anonymous", "customer_a", "customer_b", "staff", "reports_staff", "superuser")
NOT_STAFF_ROLES = ("anonymous", "customer_a", "customer_b")


def by_role(default: str, **answers: str) -> dict[str, str]:
    """Return {role: expected answer}: `default` for every role not named."""
    unknown = set(answers) - set(ROLES)
    assert not unknown, f"unknown roles {unknown}"
    return {role: answers.get(role, default) for role in ROLES}


# Answers: a status, or for a redirect its status and where to ("login" and "admin-login" are the
# login pages, with ?next= back; anything else is the path).
SHOP_LOGIN_FIRST = "302 login"
ADMIN_LOGIN_FIRST = "302 admin-login"
NOT_STAFF = dict.fromkeys(NOT_STAFF_ROLES, ADMIN_LOGIN_FIRST)


@dataclass(frozen=True)
class World:
    """The objects the URLs point at, and one logged-in client per role."""

    clients: dict[str, Client]
    category: Category
    product: Product
    order_of_a: Order
    customer_a: Customer
    address_of_a: Address
    objects: dict[str, object]  # admin model label -> an instance, for change/delete/history URLs


# --- The site's own URLs: one entry per URL name --------------------------------------------------

SHOP: dict[str, tuple[Callable[[World], str], dict[str, str]]] = {
    # Load balancers probe it; it says which servers are up and nothing about any user.
    "healthz": (lambda w: reverse("healthz"), by_role("200")),
    # The shop's icon, for everyone.
    "favicon": (lambda w: reverse("favicon"), by_role("302 /static/shopsite/favicon.svg")),
    # Products' pictures, public; served by Django in development and tests only (nginx in
    # production). A file that is not there is a 404 (tests/catalog/test_pictures.py opens real ones).
    "media": (lambda w: reverse("media", kwargs={"path": "products/00/none.jpg"}), by_role("404")),
    "accounts:cart": (lambda w: reverse("accounts:cart"), by_role("200")),
    # Cart changes are POST only: a link or an image cannot change anyone's cart.
    "accounts:cart_add": (lambda w: reverse("accounts:cart_add"), by_role("405")),
    "accounts:cart_update": (lambda w: reverse("accounts:cart_update"), by_role("405")),
    "accounts:cart_remove": (lambda w: reverse("accounts:cart_remove"), by_role("405")),
    # Customer A has a cart; everyone else's is empty and goes back to it.
    "accounts:checkout": (
        lambda w: reverse("accounts:checkout"),
        by_role("303 /cart/", anonymous=SHOP_LOGIN_FIRST, customer_a="200"),
    ),
    "accounts:orders": (lambda w: reverse("accounts:orders"), by_role("200", anonymous=SHOP_LOGIN_FIRST)),
    # The account's pages: each signed-in user's own (staff too: an account without a customer yet).
    "accounts:account": (lambda w: reverse("accounts:account"), by_role("200", anonymous=SHOP_LOGIN_FIRST)),
    "accounts:profile": (lambda w: reverse("accounts:profile"), by_role("200", anonymous=SHOP_LOGIN_FIRST)),
    "accounts:addresses": (
        lambda w: reverse("accounts:addresses"),
        by_role("200", anonymous=SHOP_LOGIN_FIRST),
    ),
    "accounts:address_new": (
        lambda w: reverse("accounts:address_new"),
        by_role("200", anonymous=SHOP_LOGIN_FIRST),
    ),
    # A's address: only A sees it; for anyone else it does not exist, as A's order.
    "accounts:address_edit": (
        lambda w: reverse("accounts:address_edit", args=[w.address_of_a.pk]),
        by_role("404", anonymous=SHOP_LOGIN_FIRST, customer_a="200"),
    ),
    # Deleting an address, making one the default, cancelling an order: POST only.
    "accounts:address_delete": (
        lambda w: reverse("accounts:address_delete", args=[w.address_of_a.pk]),
        by_role("405", anonymous=SHOP_LOGIN_FIRST),
    ),
    "accounts:address_default": (
        lambda w: reverse("accounts:address_default", args=[w.address_of_a.pk]),
        by_role("405", anonymous=SHOP_LOGIN_FIRST),
    ),
    "accounts:order_cancel": (
        lambda w: reverse("accounts:order_cancel", args=[w.order_of_a.pk]),
        by_role("405", anonymous=SHOP_LOGIN_FIRST),
    ),
    "accounts:password_change": (
        lambda w: reverse("accounts:password_change"),
        by_role("200", anonymous=SHOP_LOGIN_FIRST),
    ),
    "accounts:password_change_done": (
        lambda w: reverse("accounts:password_change_done"),
        by_role("200", anonymous=SHOP_LOGIN_FIRST),
    ),
    # A forgotten password: for anyone, and the same answer whoever asks.
    "accounts:password_reset": (lambda w: reverse("accounts:password_reset"), by_role("200")),
    "accounts:password_reset_done": (lambda w: reverse("accounts:password_reset_done"), by_role("200")),
    # A link that is no one's: the page that says so, to everyone.
    "accounts:password_reset_confirm": (
        lambda w: reverse("accounts:password_reset_confirm", args=["MQ", "not-a-token"]),
        by_role("200"),
    ),
    "accounts:password_reset_complete": (
        lambda w: reverse("accounts:password_reset_complete"),
        by_role("200"),
    ),
    # A's order: only A sees it; for anyone else it does not exist, staff included (admin is for staff).
    "accounts:order": (
        lambda w: reverse("accounts:order", args=[w.order_of_a.pk]),
        by_role("404", anonymous=SHOP_LOGIN_FIRST, customer_a="200"),
    ),
    "accounts:login": (lambda w: reverse("accounts:login"), by_role("302 /", anonymous="200")),
    "accounts:logout": (lambda w: reverse("accounts:logout"), by_role("405")),
    "accounts:signup": (lambda w: reverse("accounts:signup"), by_role("200")),
    "catalog:home": (lambda w: reverse("catalog:home"), by_role("200")),
    "catalog:category": (lambda w: reverse("catalog:category", args=[w.category.slug]), by_role("200")),
    "catalog:product": (lambda w: reverse("catalog:product", args=[w.product.slug]), by_role("200")),
    "catalog:search": (lambda w: reverse("catalog:search") + f"?q={w.product.name}", by_role("200")),
}

# --- The admin: its site-wide pages, then every registered model's pages --------------------------

ADMIN_SITE: dict[str, tuple[Callable[[World], str], dict[str, str]]] = {
    "admin:index": (lambda w: reverse("admin:index"), by_role("200", **NOT_STAFF)),
    # Django shows its login form to non-staff ("not authorized"), and sends staff to the index.
    "admin:login": (
        lambda w: reverse("admin:login"),
        by_role("302 /admin/", **dict.fromkeys(NOT_STAFF_ROLES, "200")),
    ),
    # Logging out is POST only; admin sends those who are not logged in to its index (then its login).
    "admin:logout": (
        lambda w: reverse("admin:logout"),
        by_role("405", **dict.fromkeys(NOT_STAFF_ROLES, "302 /admin/")),
    ),
    "admin:password_change": (lambda w: reverse("admin:password_change"), by_role("200", **NOT_STAFF)),
    "admin:password_change_done": (
        lambda w: reverse("admin:password_change_done"),
        by_role("200", **NOT_STAFF),
    ),
    # Without its parameters the autocomplete refuses everyone; with them it checks the model's permission.
    "admin:autocomplete": (lambda w: reverse("admin:autocomplete"), by_role("403", **NOT_STAFF)),
    # The customer form's user search lists usernames: only for those who may change customers.
    "admin:autocomplete[customer.user]": (
        lambda w: reverse("admin:autocomplete") + "?app_label=accounts&model_name=customer&field_name=user",
        by_role("403", **NOT_STAFF, superuser="200"),
    ),
    "admin:jsi18n": (lambda w: reverse("admin:jsi18n"), by_role("200", **NOT_STAFF)),
    "admin:view_on_site": (
        lambda w: reverse(
            "admin:view_on_site", args=[ContentType.objects.get_for_model(Product).pk, w.product.pk]
        ),
        by_role("302 http://testserver/p/{product}/", **NOT_STAFF),
    ),
    # An app's page lists the models the user may see: none, for staff without permissions.
    "admin:app_list[catalog]": (
        lambda w: reverse("admin:app_list", args=["catalog"]),
        by_role("404", **NOT_STAFF, superuser="200"),
    ),
    "admin:app_list[accounts]": (
        lambda w: reverse("admin:app_list", args=["accounts"]),
        by_role("404", **NOT_STAFF, superuser="200"),
    ),
    "admin:app_list[reports]": (
        lambda w: reverse("admin:app_list", args=["reports"]),
        by_role("404", **NOT_STAFF, reports_staff="200", superuser="200"),
    ),
    "admin:app_list[auth]": (
        lambda w: reverse("admin:app_list", args=["auth"]),
        by_role("404", **NOT_STAFF, superuser="200"),
    ),
    "admin:app_list[axes]": (
        lambda w: reverse("admin:app_list", args=["axes"]),
        by_role("404", **NOT_STAFF, superuser="200"),
    ),
}
# Admin URLs without a name: the old "<id>/" address of a change page, and the catch-all.
ADMIN_UNNAMED = {
    "admin/catalog/product/<id>/": (
        lambda w: f"/admin/catalog/product/{w.product.pk}/",
        # Redirected before any permission check: the change page then says 403 to whom it must.
        by_role("302 /admin/catalog/product/{product_pk}/change/", **NOT_STAFF),
    ),
    "admin/<anything>": (lambda w: "/admin/no/such/page/", by_role("404", **NOT_STAFF)),
}

# What each registered model's pages answer. Staff-managed models: only the superuser (no staff
# role here has their permissions). Reports: read-only, for staff with the reports' permissions.
MANAGED = by_role("200", **NOT_STAFF, staff="403", reports_staff="403")
NOBODY = by_role("403", **NOT_STAFF)  # pages no one may use: adding a report row, an order...
REPORT = by_role("200", **NOT_STAFF, staff="403")
MANAGED_PAGES = dict.fromkeys(["changelist", "add", "change", "delete", "history"], MANAGED)
# A report row's change page is a read-only view of it, for those who may see the report.
REPORT_PAGES = {
    "changelist": REPORT,
    "csv": REPORT,
    "add": NOBODY,
    "change": REPORT,
    "delete": NOBODY,
    "history": REPORT,
}
# Logs nobody adds: the log's own writer does.
LOG_PAGES = {**MANAGED_PAGES, "add": NOBODY}
ADMIN_MODELS: dict[str, dict[str, dict[str, str]]] = {
    "auth.group": MANAGED_PAGES,
    "catalog.category": MANAGED_PAGES,
    "catalog.product": MANAGED_PAGES,
    "accounts.user": {**MANAGED_PAGES, "auth_user_password_change": MANAGED},
    "accounts.customer": MANAGED_PAGES,
    "accounts.deliveryoption": MANAGED_PAGES,
    # Orders come from checkouts only, and are cancelled (stock returned), never deleted.
    "accounts.order": {**MANAGED_PAGES, "add": NOBODY, "delete": NOBODY},
    "reports.dashboard": {"changelist": REPORT},
    # The database health page: a permission of its own, which the reports' staff do not have.
    "reports.databasehealth": {"changelist": MANAGED},
    "reports.salesdaily": REPORT_PAGES,
    "reports.customersdaily": REPORT_PAGES,
    "reports.productsales": REPORT_PAGES,
    "reports.customervalue": REPORT_PAGES,
    "reports.categorymonthly": REPORT_PAGES,
    "reports.refreshlog": {**MANAGED_PAGES, "add": NOBODY, "delete": NOBODY},
    "axes.accessattempt": LOG_PAGES,
    "axes.accesslog": LOG_PAGES,
    "axes.accessfailurelog": LOG_PAGES,
}
OBJECT_PAGES = {"change", "delete", "history", "auth_user_password_change"}


def _admin_url_name(label: str, page: str) -> str:
    """Return the admin URL name of a model's page ("catalog_product_change", or a full name)."""
    return page if page.startswith("auth_user_") else f"{label.replace('.', '_')}_{page}"


# --- Coverage: every URL of the resolver has an entry ---------------------------------------------


def _named_urls(patterns, namespace: str = "") -> list[tuple[str, str]]:
    """Return (name with its namespaces, route) for every URL pattern, walking included URLconfs."""
    found = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            found += [
                (name, f"{pattern.pattern}{route}")
                for name, route in _named_urls(pattern.url_patterns, inner)
            ]
        elif isinstance(pattern, URLPattern):
            found.append((f"{namespace}{pattern.name}" if pattern.name else "", str(pattern.pattern)))
    return found


def missing_entries(resolver: URLResolver, registry: dict) -> list[str]:
    """Return a sentence for each URL or admin model that has no entry in this matrix, and each
    entry that no longer matches a URL."""
    problems = []
    urls = _named_urls(resolver.url_patterns)
    shop_names = {name for name, route in urls if name and not name.startswith("admin:")}
    for route in sorted(route for name, route in urls if not name and not route.startswith("admin/")):
        problems.append(f"URL {route!r} has no name: name it and give it an entry in SHOP")
    for name in sorted(shop_names - set(SHOP)):
        problems.append(f"URL {name!r} has no entry in SHOP of tests/test_access_matrix.py")
    for name in sorted(set(SHOP) - shop_names):
        problems.append(f"SHOP has an entry for {name!r}, which is no URL any more")

    labels = {model._meta.label_lower for model in registry}
    for label in sorted(labels - set(ADMIN_MODELS)):
        problems.append(f"admin model {label!r} has no entry in ADMIN_MODELS of tests/test_access_matrix.py")
    for label in sorted(set(ADMIN_MODELS) - labels):
        problems.append(f"ADMIN_MODELS has an entry for {label!r}, which is not in the admin any more")
    covered = {name.split("[")[0] for name in ADMIN_SITE} | {
        f"admin:{_admin_url_name(label, page)}" for label, pages in ADMIN_MODELS.items() for page in pages
    }
    admin_names = {name for name, route in urls if name.startswith("admin:")}
    for name in sorted(admin_names - covered):
        problems.append(f"admin URL {name!r} has no entry in ADMIN_SITE or ADMIN_MODELS")
    for name in sorted(covered - admin_names):
        problems.append(f"the matrix has an entry for {name!r}, which is no admin URL any more")
    return problems


def test_every_url_has_an_entry():
    problems = missing_entries(get_resolver(), admin.site._registry)

    assert not problems, "\n".join(problems)


def test_a_new_url_without_an_entry_fails_the_matrix_and_says_which():
    planted = [
        *get_resolver().url_patterns,
        path("gift-cards/", lambda request: HttpResponse(), name="gift_cards"),
        path("unnamed/", lambda request: HttpResponse()),
    ]
    registry = {**admin.site._registry, Permission: admin.ModelAdmin(Permission, admin.site)}

    problems = missing_entries(URLResolver(RegexPattern(r"^/"), planted), registry)

    assert "URL 'gift_cards' has no entry in SHOP of tests/test_access_matrix.py" in problems
    assert "URL 'unnamed/' has no name: name it and give it an entry in SHOP" in problems
    assert any("admin model 'auth.permission' has no entry" in problem for problem in problems)


# --- The world the URLs point at ------------------------------------------------------------------


def _staff_with(*codenames: str):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def world() -> World:
    from axes.models import AccessAttempt, AccessFailureLog

    category = CategoryFactory(slug="shirts", facets=["color"])
    product = ProductFactory(category=category, slug="blue-shirt")
    customer_a = CustomerFactory(user=UserFactory(username="alice"))
    customer_b = CustomerFactory(user=UserFactory(username="bob"))
    order_of_a = OrderFactory(customer=customer_a)
    OrderItemFactory(order=order_of_a, product=product)
    address_of_a = AddressFactory(customer=customer_a)
    AddressFactory(customer=customer_b)
    DeliveryOptionFactory()
    OrderItemFactory(order=OrderFactory(customer=customer_b), product=product)
    Group.objects.create(name="Packers")
    AccessAttempt.objects.create(
        username="mallory", ip_address="10.0.0.1", user_agent="x", failures_since_start=1
    )
    AccessFailureLog.objects.create(username="mallory", ip_address="10.0.0.1", user_agent="x")
    reports_refresh()  # every report view has rows, and the refresh log one per view

    report_codenames = [
        "view_dashboard",
        *(f"view_{model._meta.model_name}" for model in REPORT_MODELS.values()),
    ]
    users = {
        "customer_a": customer_a.user,
        "customer_b": customer_b.user,
        "staff": _staff_with(),
        "reports_staff": _staff_with(*report_codenames),
        "superuser": UserFactory(is_staff=True, is_superuser=True),
    }
    clients = {"anonymous": Client()}
    with zeal_ignore():  # set-up, not the code under test: one login per role is no N+1
        for role, user in users.items():
            clients[role] = Client()
            clients[role].force_login(user)
    put_in_cart(clients["customer_a"], {product.pk: 1})
    objects = {
        model._meta.label_lower: model._default_manager.order_by("pk").first()
        for model in admin.site._registry
        if model is not Dashboard
    }
    return World(clients, category, product, order_of_a, customer_a, address_of_a, objects)


def _admin_model_urls(w: World) -> dict[str, tuple[str, dict[str, str]]]:
    """Return {entry name: (url, answers)} for every registered model's pages."""
    urls = {}
    for label, pages in ADMIN_MODELS.items():
        for page, answers in pages.items():
            args = [quote(w.objects[label].pk)] if page in OBJECT_PAGES else []
            name = _admin_url_name(label, page)
            urls[f"admin:{name}"] = (reverse(f"admin:{name}", args=args), answers)
    return urls


def every_url(w: World) -> dict[str, tuple[str, dict[str, str]]]:
    """Return {entry name: (url, answers)} for every entry of the matrix."""
    site = {**SHOP, **ADMIN_SITE, **ADMIN_UNNAMED}
    urls = {name: (build(w), answers) for name, (build, answers) in site.items()}
    return {**urls, **_admin_model_urls(w)}


def outcome(response, w: World) -> str:
    """Return the answer as the matrix writes it: "200", "302 login", "303 /cart/"..."""
    if response.status_code not in {301, 302, 303}:
        return str(response.status_code)
    location = response["Location"]
    for prefix, short in (
        (reverse("admin:login") + "?next=", "admin-login"),
        (reverse("accounts:login") + "?next=", "login"),
    ):
        if location.startswith(prefix):
            return f"{response.status_code} {short}"
    return f"{response.status_code} {location}"


def expected(answer: str, w: World) -> str:
    return answer.format(product=w.product.slug, product_pk=w.product.pk)


@pytest.mark.parametrize("role", ROLES)
def test_every_url_answers_each_role_as_expected(world, role):
    client = world.clients[role]
    urls = every_url(world)

    wrong = []
    for name, (url, answers) in urls.items():
        try:
            with zeal_ignore(TWO_USERS_ARE_NO_N_PLUS_ONE):
                got = outcome(client.get(url), world)
        except Exception as error:  # the test client re-raises a view's exception: list it with the rest
            got = f"{type(error).__name__}: {str(error).splitlines()[0]}"
        if got != expected(answers[role], world):
            wrong.append(f"{name} {url}: expected {expected(answers[role], world)}, got {got}")

    assert not wrong, f"{role}, {len(wrong)} of {len(urls)} URLs:\n" + "\n".join(wrong)


# --- No GET changes data ----------------------------------------------------------------------------


def table_writes() -> dict[str, tuple[int, int, int]]:
    """Return (inserted, updated, deleted) rows per table in this test's transaction (PostgreSQL's counts)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_xact_user_tables")
        return {name: (inserted, updated, deleted) for name, inserted, updated, deleted in cursor.fetchall()}


def cart_in(client: Client) -> dict[str, int] | None:
    """Return the client's session cart; None without a session (reading one would create it)."""
    return cart_of(client) if settings.SESSION_COOKIE_NAME in client.cookies else None


def test_table_writes_sees_a_write():
    before = table_writes()
    Group.objects.create(name="Counted")

    after = table_writes()

    assert after["auth_group"][0] == before.get("auth_group", (0, 0, 0))[0] + 1


@pytest.mark.parametrize("role", ROLES)
def test_no_get_writes_a_row_or_changes_a_cart(world, role):
    client = world.clients[role]

    writes = []
    for name, (url, _) in every_url(world).items():
        cart, before = cart_in(client), table_writes()
        with zeal_ignore(TWO_USERS_ARE_NO_N_PLUS_ONE):
            client.get(url)
        changed = {
            table for table, counts in table_writes().items() if counts != before.get(table, (0, 0, 0))
        }
        if changed:
            writes.append(f"GET {url} ({name}) wrote to {sorted(changed)}")
        if cart_in(client) != cart:
            writes.append(f"GET {url} ({name}) changed the cart from {cart} to {cart_in(client)}")

    assert not writes, f"{role}:\n" + "\n".join(writes)


# --- CSRF: every POST without a token is refused, whatever the URL and whoever sends it ----------------


def _state_changing_body(w: World) -> dict[str, str]:
    """Return fields that would change something at any of the shop's or admin's POST endpoints."""
    return {
        "product_id": str(w.product.pk),
        "quantity": "1",
        "username": "alice",
        "password": "correct horse battery",
        "name": "Eve",
        "email": "eve@example.com",
        "password1": "plum-orchard-42-lantern",
        "password2": "plum-orchard-42-lantern",
        "post": "yes",  # the admin's delete confirmation
        "action": "delete_selected",
        "_selected_action": str(w.product.pk),
    }


@pytest.mark.parametrize("role", ["anonymous", "customer_a", "superuser"])
def test_every_post_without_a_csrf_token_is_refused_and_changes_nothing(world, role):
    client = Client(enforce_csrf_checks=True)
    client.cookies = world.clients[role].cookies  # the role's session, without its CSRF token
    body = _state_changing_body(world)
    cart, before = cart_in(client), table_writes()

    accepted = []
    for name, (url, _) in every_url(world).items():
        response = client.post(url, body)
        if response.status_code != 403 or b"CSRF verification failed" not in response.content:
            accepted.append(f"POST {url} ({name}): {response.status_code}")

    assert not accepted, f"{role}: accepted without a CSRF token:\n" + "\n".join(accepted)
    assert table_writes() == before
    assert cart_in(client) == cart


def test_the_same_post_with_its_csrf_token_goes_through(world):
    client = Client(enforce_csrf_checks=True)
    client.get(reverse("catalog:product", args=[world.product.slug]))  # the add-to-cart form sets the token

    response = client.post(
        reverse("accounts:cart_add"),
        {
            "product_id": world.product.pk,
            "quantity": 1,
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        },
    )

    assert response.status_code == 303
    assert cart_of(client) == {str(world.product.pk): 1}
