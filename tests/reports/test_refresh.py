"""refresh_reports: order, plain then concurrent, the log, one refresher at a time, the cache bump."""

import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from reports.management.commands.refresh_reports import EXIT_REFRESH_RUNNING
from reports.models import REPORT_MODELS, RefreshLog, SalesDaily
from reports.selectors import DASHBOARD_NAMESPACE
from reports.services import (
    RefreshAlreadyRunning,
    UnknownView,
    reports_refresh,
    views_in_refresh_order,
)
from shopsite.caching.versioned import namespace_version
from tests.reports.helpers import make_sales, refresh_lock_held

pytestmark = pytest.mark.django_db


def refresh(*args: str) -> str:
    out = StringIO()
    call_command("refresh_reports", *args, stdout=out)
    return out.getvalue()


def populated() -> dict[str, bool]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT matviewname, ispopulated FROM pg_matviews WHERE matviewname LIKE 'reports\\_%'"
        )
        return dict(cursor.fetchall())


def test_migrations_leave_the_views_unpopulated():
    assert populated() == {view: False for view in REPORT_MODELS}


def test_the_first_refresh_is_plain_and_the_next_ones_concurrent():
    make_sales(3)

    first = refresh()
    second = refresh()

    assert populated() == {view: True for view in REPORT_MODELS}
    for view in REPORT_MODELS:
        assert f"{view}: refreshed plainly in " in first
        assert f"{view}: refreshed concurrently in " in second
    assert "Refreshed 5 views in " in second
    assert (
        list(RefreshLog.objects.order_by("started", "id").values_list("concurrently", flat=True))
        == [False] * 5 + [True] * 5
    )


def test_each_refresh_is_logged_with_its_duration_and_rows():
    make_sales(3)

    refreshed = reports_refresh()

    logs = {log.view: log for log in RefreshLog.objects.all()}
    assert set(logs) == set(REPORT_MODELS)
    assert logs["reports_sales_daily"].rows == 3
    assert logs["reports_product_sales"].rows == 2
    assert all(log.duration.total_seconds() > 0 for log in logs.values())
    assert [done.view for done in refreshed] == views_in_refresh_order(None)


def test_the_output_names_each_view_with_its_time_and_rows():
    make_sales(2)

    out = refresh()

    assert "reports_sales_daily: refreshed plainly in " in out
    assert " ms, 2 rows" in out


def test_view_options_refresh_only_those_views_by_short_or_full_name():
    make_sales(2)

    out = refresh("--view", "sales_daily", "--view", "reports_customer_value")

    assert populated()["reports_sales_daily"]
    assert populated()["reports_customer_value"]
    assert not populated()["reports_product_sales"]
    assert set(RefreshLog.objects.values_list("view", flat=True)) == {
        "reports_sales_daily",
        "reports_customer_value",
    }
    assert "Refreshed 2 views" in out


def test_an_unknown_view_is_an_error_that_lists_the_valid_names():
    with pytest.raises(CommandError) as error:
        refresh("--view", "sales_daly")

    assert str(error.value) == (
        "unknown view 'sales_daly': choose from sales_daily, customers_daily, product_sales, "
        "customer_value, category_monthly"
    )
    assert not RefreshLog.objects.exists()


def test_no_concurrently_refreshes_plainly_even_a_populated_view():
    make_sales(2)
    refresh()

    out = refresh("--no-concurrently", "--view", "sales_daily")

    assert "reports_sales_daily: refreshed plainly in " in out
    assert RefreshLog.objects.filter(view="reports_sales_daily", concurrently=False).count() == 2


def test_a_refresh_shows_new_orders():
    make_sales(2)
    refresh()
    make_sales(1)

    refresh()

    assert SalesDaily.objects.order_by("-day").values_list("orders", flat=True).first() == 2


def test_views_come_after_the_views_they_read(monkeypatch):
    monkeypatch.setattr(
        "reports.services.VIEW_DEPENDENCIES",
        {"reports_c": ("reports_b",), "reports_b": ("reports_a",), "reports_a": (), "reports_d": ()},
    )

    order = views_in_refresh_order(None)

    assert order.index("reports_a") < order.index("reports_b") < order.index("reports_c")
    assert views_in_refresh_order(["reports_c", "reports_a"]) == ["reports_a", "reports_c"]
    with pytest.raises(UnknownView):
        views_in_refresh_order(["reports_x"])


def test_a_second_refresh_while_one_runs_exits_at_once_with_its_own_code():
    with refresh_lock_held():  # what a running refresh holds, taken here by another session
        started = time.monotonic()
        with pytest.raises(CommandError) as error:
            refresh()
        elapsed = time.monotonic() - started

    assert error.value.returncode == EXIT_REFRESH_RUNNING == 75
    assert str(error.value) == "another refresh is running: nothing refreshed"
    assert elapsed < 2
    assert not RefreshLog.objects.exists()
    assert not any(populated().values())


def test_the_service_raises_when_another_refresh_holds_the_lock():
    with refresh_lock_held(), pytest.raises(RefreshAlreadyRunning):
        reports_refresh()


def test_the_dashboard_cache_moves_to_a_new_version_once_the_refresh_commits(
    django_capture_on_commit_callbacks,
):
    before = namespace_version(DASHBOARD_NAMESPACE)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        refresh()
    assert namespace_version(DASHBOARD_NAMESPACE) == before  # not committed yet

    for callback in callbacks:
        callback()
    assert namespace_version(DASHBOARD_NAMESPACE) == before + 1


@pytest.mark.django_db(transaction=True)
def test_a_committed_refresh_bumps_the_dashboard_version_and_a_failed_one_does_not(empty_views_after):
    make_sales(2)
    before = namespace_version(DASHBOARD_NAMESPACE)

    refresh()
    assert namespace_version(DASHBOARD_NAMESPACE) == before + 1

    with refresh_lock_held(), pytest.raises(CommandError):
        refresh()
    assert namespace_version(DASHBOARD_NAMESPACE) == before + 1


def _planner_settings(cursor) -> tuple[str, str]:
    cursor.execute("SELECT current_setting('max_parallel_workers_per_gather'), current_setting('work_mem')")
    return cursor.fetchone()


def _planner_settings_at_each_refresh(run) -> list[tuple[str, str]]:
    """Call `run` and return the planner settings in force at each REFRESH statement it ran."""
    during = []

    def spy(execute, sql, params, many, context):
        if sql.startswith("REFRESH MATERIALIZED VIEW"):
            with context["connection"].cursor() as cursor:
                during.append(_planner_settings(cursor))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        run()
    return during


@pytest.mark.django_db(transaction=True)
def test_the_refresh_runs_on_one_core_with_its_work_mem_and_the_connection_gets_its_defaults_back(
    settings, empty_views_after
):
    settings.REPORTS_REFRESH_WORK_MEM = "48MB"
    make_sales(2)
    with connection.cursor() as cursor:
        defaults = _planner_settings(cursor)
    during = _planner_settings_at_each_refresh(reports_refresh)
    with connection.cursor() as cursor:
        after = _planner_settings(cursor)

    assert during == [("0", "48MB")] * len(REPORT_MODELS)
    assert defaults != ("0", "48MB")
    assert after == defaults


def test_parallel_workers_can_be_given_back_to_the_refresh(settings):
    settings.REPORTS_REFRESH_PARALLEL_WORKERS = 2
    during = _planner_settings_at_each_refresh(lambda: reports_refresh(views=["reports_sales_daily"]))

    assert [workers for workers, _work_mem in during] == ["2"]
