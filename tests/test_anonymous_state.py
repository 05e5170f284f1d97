"""Anonymous state is bounded: no session row for a visitor who has not needed one, expired sessions
cleared by `manage.py clearsessions` (from cron, README), and Redis a cache with a memory limit
that evicts (the local stack as in production)."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_redis import get_redis_connection
from zeal import zeal_ignore

from shopsite.localstack import redis as stack_redis
from tests.factories import ProductFactory
from tests.test_access_matrix import every_url, world  # noqa: F401 (world: the matrix's fixture)

README = Path(settings.BASE_DIR) / "README.md"


def anonymous_pages(w) -> list[str]:
    """Return every URL of the matrix, and the shop's error pages, as a visitor may GET them."""
    category = reverse("catalog:category", args=[w.category.slug])
    return [
        *(url for url, _ in every_url(w).values()),
        category + "?price_min=abc",  # 400, the form again
        category + "?color=red&color=blue&sort=-price&page=1",
        category + "?page=999",  # 404
        reverse("catalog:category", args=["no-such-category"]),
        reverse("catalog:product", args=["no-such-product"]),
        "/no-such-page/",
    ]


def sessions_created_by(client: Client, urls: list[str]) -> list[str]:
    """GET each URL and return those after which PostgreSQL holds more sessions than before."""
    created = []
    for url in urls:
        before = Session.objects.count()
        with zeal_ignore():
            client.get(url)
        if Session.objects.count() != before:
            created.append(url)
    return created


@pytest.mark.django_db(databases=["default", *settings.REPLICA_ALIASES])
@pytest.mark.parametrize("page_cache_seconds", [0, 10])
def test_no_page_creates_a_session_for_a_visitor_without_cookies(world, settings, page_cache_seconds):  # noqa: F811
    settings.PAGE_CACHE_SECONDS = page_cache_seconds
    urls = anonymous_pages(world)

    created = [url for url in urls if sessions_created_by(Client(), [url])]

    assert created == []


@pytest.mark.django_db(databases=["default", *settings.REPLICA_ALIASES])
def test_no_page_creates_a_session_for_a_visitor_with_only_a_csrf_cookie(world):  # noqa: F811
    client = Client()
    client.get(reverse("accounts:login"))  # the login form: a CSRF cookie, and nothing else
    assert set(client.cookies) == {settings.CSRF_COOKIE_NAME}

    created = sessions_created_by(client, anonymous_pages(world))

    assert created == []
    assert set(client.cookies) == {settings.CSRF_COOKIE_NAME}


@pytest.mark.django_db(databases=["default", *settings.REPLICA_ALIASES])
def test_a_made_up_session_cookie_creates_no_session(world):  # noqa: F811
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = "x" * 32

    assert sessions_created_by(client, anonymous_pages(world)) == []


@pytest.mark.django_db
def test_a_visitor_who_fills_a_cart_gets_one_session(client):
    product = ProductFactory(stock=5)
    before = Session.objects.count()

    client.post(reverse("accounts:cart_add"), {"product_id": product.pk, "quantity": 1})
    client.get(reverse("accounts:cart"))

    assert Session.objects.count() == before + 1  # the counting above sees a session when there is one


@pytest.mark.django_db
def test_clearsessions_deletes_expired_sessions_and_keeps_live_ones():
    now = timezone.now()
    Session.objects.create(session_key="expired" + "x" * 25, session_data="", expire_date=now - timedelta(1))
    Session.objects.create(session_key="live" + "x" * 28, session_data="", expire_date=now + timedelta(1))

    call_command("clearsessions")

    assert list(Session.objects.values_list("session_key", flat=True)) == ["live" + "x" * 28]


def test_the_readme_schedules_clearsessions_daily_from_cron():
    entries = [line for line in README.read_text().splitlines() if "manage.py clearsessions" in line]

    # minute hour * * *: once a day
    assert any(re.match(r"\d+ \d+ \* \* \* ", line) for line in entries), entries


# --- Redis: a cache with a memory limit and an eviction policy ----------------------------------


def _bytes(size: str) -> int:
    """Return a Redis memory size in bytes: 256mb (1024-based), 256m (1000-based), or bytes."""
    number, unit = re.fullmatch(r"(\d+)([a-z]*)", size.lower()).groups()
    factor = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 10**6, "mb": 1024**2, "g": 10**9, "gb": 1024**3}
    return int(number) * factor[unit]


def test_redis_evicts_the_least_recently_used_keys_when_full():
    config = get_redis_connection("default").config_get("maxmemory*")

    assert config["maxmemory-policy"] == "allkeys-lru"
    assert int(config["maxmemory"]) > 0


def test_the_stacks_redis_has_the_configured_memory_limit():
    redis = get_redis_connection("default")
    port = redis.connection_pool.connection_kwargs["port"]
    if port != stack_redis.REDIS_PORT:
        pytest.skip(f"Redis on port {port} is not the local stack's: its limit is the operator's")

    assert int(redis.config_get("maxmemory")["maxmemory"]) == _bytes(
        os.environ.get("STACK_REDIS_MAXMEMORY", stack_redis.MAXMEMORY)
    )
