"""`@retry_on_primary` against the stack's real replicas: a replica refused under a read-only view
is taken out and the view runs again on the primary, whatever middleware follows; a view that
changed the session or added a message is never run twice."""

from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib import messages
from django.db import connections
from django.http import HttpResponse
from django.test import Client
from django.urls import path

from catalog.models import Product
from shopsite.db.replicas import pool
from shopsite.db.retry import retry_on_primary
from shopsite.urls import urlpatterns as shop_urls
from tests.factories import CategoryFactory, ProductFactory
from tests.integration.faults import closed_port, route_of, wait_for_replay

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not settings.REPLICA_ALIASES, reason="no replica configured"),
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.urls(__name__),
]

runs: list[str] = []  # the name of each view run, in order


def _product_names() -> str:
    return ",".join(Product.objects.order_by("id").values_list("name", flat=True))


@retry_on_primary
def product_names(request):
    runs.append("product_names")
    stamped = getattr(request, "stamped", False)  # set by StampingMiddleware.process_view
    return HttpResponse(f"{_product_names()} stamped={stamped}")


@retry_on_primary
def seen_count(request):
    runs.append("seen_count")
    request.session["seen"] = request.session.get("seen", 0) + 1
    return HttpResponse(_product_names())


@retry_on_primary
def with_a_message(request):
    runs.append("with_a_message")
    messages.info(request, "Added to your cart.")
    return HttpResponse(_product_names())


def not_marked(request):
    runs.append("not_marked")
    return HttpResponse(_product_names())


def start_session(request):
    request.session["seen"] = 0
    return HttpResponse("ok")


urlpatterns = [
    path("names", product_names),
    path("seen", seen_count),
    path("message", with_a_message),
    path("not-marked", not_marked),
    path("start", start_session),
    *shop_urls,  # the 503 page links to the shop
]
handler500 = "shopsite.db.outage.server_error"  # as in shopsite.urls: an unreachable database is a 503


class StampingMiddleware:
    """A middleware after the ones the project lists: its process_view must run before the view,
    and its process_exception must see what the view raises."""

    process_views = 0
    exceptions: list[str] = []

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        type(self).process_views += 1
        request.stamped = True

    def process_exception(self, request, exception):
        type(self).exceptions.append(type(exception).__name__)


@pytest.fixture(autouse=True)
def _fresh(settings):
    runs.clear()
    StampingMiddleware.process_views = 0
    StampingMiddleware.exceptions = []
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, f"{__name__}.StampingMiddleware"]
    pool.reset()
    yield
    pool.reset()


@pytest.fixture
def client():
    """A client that gets the response a browser would, 503 page included, instead of the error."""
    return Client(raise_request_exception=False)


@pytest.fixture
def product():
    product = ProductFactory(category=CategoryFactory(), name="Oxford shirt", price=Decimal("20.00"))
    wait_for_replay()
    return product


@pytest.fixture
def refused_replicas(monkeypatch):
    """Every replica healthy at its last check, refusing connections from now on."""
    for alias in settings.REPLICA_ALIASES:
        connections[alias].close()
        monkeypatch.setitem(connections[alias].settings_dict, "PORT", closed_port())
    monkeypatch.setattr(pool, "_status", lambda alias, may_check: "healthy")


def test_a_marked_view_whose_replica_is_refused_runs_again_on_the_primary(client, product, refused_replicas):
    response = client.get("/names")

    assert response.status_code == 200
    assert response.content.decode() == "Oxford shirt stamped=True"
    assert route_of(response) == "default"
    assert runs == ["product_names", "product_names"]


def test_the_retry_holds_with_a_middleware_after_the_project_ones(client, product, refused_replicas):
    response = client.get("/names")

    assert response.status_code == 200
    # The later middleware's process_view ran once, before the first run, and the view saw it.
    assert StampingMiddleware.process_views == 1
    assert response.content.decode().endswith("stamped=True")
    assert StampingMiddleware.exceptions == []  # the retry answered: nothing escaped the view


def test_a_view_that_changed_the_session_is_not_run_twice(client, product, monkeypatch):
    client.get("/start")  # a session, kept in Redis: the next request loads it without the database
    client.cookies.pop(settings.READ_YOUR_WRITES_COOKIE, None)  # so that it reads from a replica
    for alias in settings.REPLICA_ALIASES:
        connections[alias].close()
        monkeypatch.setitem(connections[alias].settings_dict, "PORT", closed_port())
    monkeypatch.setattr(pool, "_status", lambda alias, may_check: "healthy")

    response = client.get("/seen")

    assert runs == ["seen_count"]
    assert response.status_code == 503
    # The error reached the middleware after the view, as any view's error does.
    assert StampingMiddleware.exceptions == ["OperationalError"]
    assert client.session["seen"] == 0  # a failed request saves no session: nothing half-written


def test_a_view_that_added_a_message_is_not_run_twice(client, product, refused_replicas):
    response = client.get("/message")

    assert runs == ["with_a_message"]
    assert response.status_code == 503


def test_a_view_not_marked_is_not_run_again(client, product, refused_replicas):
    response = client.get("/not-marked")

    assert runs == ["not_marked"]
    assert response.status_code == 503


def test_a_marked_view_is_not_run_again_for_a_post(client, product, refused_replicas):
    response = client.post("/names")

    assert runs == ["product_names"]
    assert response.status_code == 503
