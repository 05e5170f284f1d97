"""Namespace versions: a lost version never makes an old entry valid again, and a failed bump is
never silent (the real test Redis; an unreachable one at a closed port)."""

import logging
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import transaction
from django_redis import get_redis_connection

from catalog.models import Product
from reports.selectors import DASHBOARD_NAMESPACE
from shopsite.caching.keys import cache_key, version_key
from shopsite.caching.versioned import (
    NAMESPACES,
    NamespaceBumpFailed,
    failed_bumps_collected,
    get_or_build,
    namespace_bump,
    namespace_bump_on_commit,
    namespace_version,
)


def evict_version(namespace: str) -> None:
    """Delete a namespace's version from Redis, as an eviction or a restart would."""
    get_redis_connection("default").delete(cache.make_key(version_key(namespace)))


@pytest.fixture
def unreachable_redis(settings):
    settings.CACHES = {"default": settings.CACHES["default"] | {"LOCATION": "redis://127.0.0.1:1/0"}}


def test_an_entry_of_a_lost_version_stays_stale_when_the_version_starts_again():
    get_or_build("catalog", "list", build=lambda: "the list of long ago", timeout=600)
    namespace_bump("catalog")  # a write: the entry above is stale
    evict_version("catalog")
    # Another page starts the namespace again; with a restart at 1, the first version, the
    # entry built in it would be served again.
    get_or_build("catalog", "other", build=lambda: "other", timeout=600)

    assert get_or_build("catalog", "list", build=lambda: "the list now", timeout=600) == "the list now"


def test_a_lost_version_starts_again_above_every_version_it_had():
    first = namespace_version("catalog")
    for _ in range(5):
        namespace_bump("catalog")
    evict_version("catalog")

    assert namespace_version("catalog") > first + 5


def test_a_bump_of_a_lost_version_starts_it_above_every_version_it_had():
    first = namespace_version("catalog")
    evict_version("catalog")

    assert namespace_bump("catalog") > first
    assert namespace_version("catalog") > first


def test_a_bump_without_redis_raises_naming_the_namespace_and_the_command(unreachable_redis):
    with pytest.raises(NamespaceBumpFailed) as failed:
        namespace_bump("catalog")

    assert failed.value.namespace == "catalog"
    assert "bump of cache namespace 'catalog' failed 3 times" in str(failed.value)
    assert "manage.py cache_bump catalog" in str(failed.value)


@pytest.mark.django_db(transaction=True)
def test_a_bump_on_commit_without_redis_keeps_the_commit_logs_an_error_and_is_collected(
    unreachable_redis, caplog
):
    with (
        failed_bumps_collected() as failed,
        caplog.at_level(logging.ERROR, logger="shopsite.cache"),
        transaction.atomic(),
    ):
        namespace_bump_on_commit("dashboard")

    assert [failure.namespace for failure in failed] == ["dashboard"]
    assert any("manage.py cache_bump dashboard" in record.getMessage() for record in caplog.records)


@pytest.mark.django_db(transaction=True)
def test_a_bump_on_commit_outside_a_collector_only_logs(unreachable_redis, caplog):
    with caplog.at_level(logging.ERROR, logger="shopsite.cache"), transaction.atomic():
        namespace_bump_on_commit("catalog")

    assert "bump of cache namespace 'catalog' failed" in caplog.text


def test_without_redis_nothing_is_cached_under_a_guessed_version(unreachable_redis):
    assert namespace_version("catalog") is None
    assert get_or_build("catalog", "x", build=lambda: "built", timeout=60) == "built"


def test_a_namespace_key_is_the_version_key_and_entries_are_hashed():
    namespace_bump("catalog")
    get_or_build("catalog", "list", build=lambda: 1, timeout=60)

    stored = get_redis_connection("default").scan_iter("*")
    keys = {key.decode().removeprefix(cache.make_key("")) for key in stored}

    assert keys == {"ns:catalog", cache_key("catalog", "list")}


# --- manage.py cache_bump ----------------------------------------------------------------------


def test_cache_bump_moves_each_namespace_to_a_new_version():
    catalog, dashboard = namespace_version("catalog"), namespace_version("dashboard")
    out = StringIO()

    call_command("cache_bump", "catalog", "dashboard", stdout=out)

    assert namespace_version("catalog") == catalog + 1
    assert namespace_version("dashboard") == dashboard + 1
    assert f"catalog: bumped to version {catalog + 1}" in out.getvalue()


def test_cache_bump_refuses_an_unknown_namespace_and_names_the_known_ones():
    with pytest.raises(CommandError, match="namespace 'catlog': choose from catalog, dashboard"):
        call_command("cache_bump", "catlog")


def test_cache_bump_without_redis_exits_1(unreachable_redis):
    err = StringIO()
    with pytest.raises(CommandError, match="not bumped: catalog") as failed:
        call_command("cache_bump", "catalog", stderr=err)

    assert failed.value.returncode == 1
    assert "manage.py cache_bump catalog" in err.getvalue()


def test_every_namespace_of_the_apps_is_known_to_cache_bump():
    assert {"catalog", DASHBOARD_NAMESPACE} <= set(NAMESPACES)


@pytest.mark.django_db(transaction=True)
def test_seed_demo_without_redis_seeds_and_exits_1_naming_the_catalog(unreachable_redis, tmp_path):
    sizes = ["--categories", "1", "--products", "3", "--customers", "2", "--orders", "2", "--logins", "1"]
    out = StringIO()
    with pytest.raises(CommandError, match="cache_bump catalog") as failed:
        call_command("seed_demo", *sizes, "--logins-file", str(tmp_path / "logins.txt"), stdout=out)

    assert failed.value.returncode == 1
    assert "Seeded 1 categories, 3 products" in out.getvalue()
    assert Product.objects.count() == 3
