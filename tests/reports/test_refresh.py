"""refresh_reports: the views, plain then concurrent, the closed days, the log, one refresher at a
time, work proportional to what changed, and the cache bump."""

import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from accounts.demo import shop_reset
from accounts.models import OrderStatus
from accounts.services import orders_transition
from reports.management.commands.refresh_reports import EXIT_REFRESH_RUNNING
from reports.models import ClosedSalesDay, RefreshLog, ReportWindow, SalesDaily
from reports.selectors import DASHBOARD_NAMESPACE
from reports.services import (
    CLOSED_DAYS_LOG,
    VIEW_DEPENDENCIES,
    RefreshAlreadyRunning,
    reports_refresh,
    view_names,
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


def test_migrations_leave_the_views_unpopulated_and_the_window_empty():
    assert populated() == {view: False for view in VIEW_DEPENDENCIES}
    window = ReportWindow.objects.get()
    assert (window.closed_until, window.recent_until, window.refreshed) == (None, None, None)


def test_the_first_refresh_is_plain_and_the_next_ones_concurrent():
    make_sales(3)

    first = refresh()
    second = refresh()

    assert populated() == {view: True for view in VIEW_DEPENDENCIES}
    for view in VIEW_DEPENDENCIES:
        assert f"{view}: refreshed plainly in " in first
        assert f"{view}: refreshed concurrently in " in second
    assert "Refreshed the reports in " in second


def test_views_are_refreshed_after_the_views_they_read():
    order = view_names()

    for view, reads in VIEW_DEPENDENCIES.items():
        assert all(order.index(read) < order.index(view) for read in reads)


def test_each_step_is_logged_with_its_duration_and_rows(settings):
    settings.REPORTS_RECENT_DAYS = 1
    make_sales(3)  # today (live), yesterday (recent), the day before (closed)

    refreshed = reports_refresh()

    logs = list(RefreshLog.objects.order_by("started", "id"))
    assert [log.view for log in logs] == [done.view for done in refreshed]
    # The first refresh counts all history, closes the old days, then counts the recent ones again.
    assert [log.view for log in logs] == [*view_names(), CLOSED_DAYS_LOG, *view_names()]
    by_view = {log.view: log for log in logs}
    assert by_view["reports_sales_recent"].rows == 1  # yesterday
    assert all(log.duration.total_seconds() > 0 for log in logs)


def test_the_output_names_each_view_and_the_closed_days():
    make_sales(2)

    out = refresh()

    assert "reports_sales_recent: refreshed plainly in " in out
    assert "closed days: " in out
    assert " rows copied in " in out


def test_no_concurrently_refreshes_plainly_even_a_populated_view():
    make_sales(2)
    refresh()

    out = refresh("--no-concurrently")

    assert "reports_sales_recent: refreshed plainly in " in out
    assert "concurrently" not in out


def test_the_window_closes_yesterday_at_the_earliest_and_today_is_never_counted(settings):
    settings.REPORTS_RECENT_DAYS = 2
    make_sales(5)

    reports_refresh()

    today = timezone.localdate()
    window = ReportWindow.objects.get()
    assert window.recent_until == today
    assert window.closed_until == today - timedelta(days=2)
    # Yesterday and the day before stay recent; the older days are closed.
    assert set(ClosedSalesDay.objects.values_list("day", flat=True)) == {
        today - timedelta(days=k) for k in (3, 4)
    }


def test_a_refresh_shows_new_orders_of_past_days():
    make_sales(2)
    refresh()
    make_sales(1, today=timezone.localdate() - timedelta(days=1))

    refresh()

    yesterday = timezone.localdate() - timedelta(days=1)
    assert SalesDaily.objects.get(day=yesterday).orders == 2


@pytest.mark.django_db(transaction=True)
def test_rebuild_counts_every_closed_day_again(settings, empty_views_after):
    settings.REPORTS_RECENT_DAYS = 1
    orders = make_sales(6)
    refresh()
    # Changed behind the shop's back: `updated` untouched, so no refresh would notice it.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE accounts_order SET total = 1 WHERE id = %s", [orders[4].pk])
    refresh()
    four_days_ago = timezone.localdate() - timedelta(days=4)
    assert SalesDaily.objects.get(day=four_days_ago).revenue == 20

    refresh("--rebuild")

    assert SalesDaily.objects.get(day=four_days_ago).revenue == 1


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


def closed_days_copied(refreshed) -> int:
    return sum(done.rows for done in refreshed if done.view == CLOSED_DAYS_LOG)


@pytest.mark.django_db(transaction=True)
def test_a_refresh_after_nothing_changed_copies_nothing_and_counts_only_the_recent_days(
    settings, empty_views_after
):
    settings.REPORTS_RECENT_DAYS = 2
    make_sales(30)
    reports_refresh()

    again = reports_refresh()

    assert closed_days_copied(again) == 0
    recent = {done.view: done.rows for done in again}
    assert recent["reports_sales_recent"] == 2  # the two recent days, not thirty


@pytest.mark.django_db(transaction=True)
def test_an_order_changed_on_a_closed_day_reopens_that_day_only(settings, empty_views_after):
    settings.REPORTS_RECENT_DAYS = 2
    orders = make_sales(30)
    reports_refresh()
    twenty_days_ago = timezone.localdate() - timedelta(days=20)
    assert SalesDaily.objects.get(day=twenty_days_ago).orders == 1

    orders_transition(order_ids=[orders[20].pk], to=OrderStatus.CANCELLED)
    again = reports_refresh()

    assert not SalesDaily.objects.filter(day=twenty_days_ago).exists()
    assert not ClosedSalesDay.objects.filter(day=twenty_days_ago).exists()
    # That day's rows taken out (sales, products, customer, category: nothing put back), no other.
    assert closed_days_copied(again) == 0
    assert SalesDaily.objects.count() == 29


@pytest.mark.django_db(transaction=True)
def test_an_order_placed_late_on_a_closed_day_is_counted_by_the_next_refresh(settings, empty_views_after):
    settings.REPORTS_RECENT_DAYS = 2
    make_sales(10)
    reports_refresh()
    ten_days_ago = timezone.localdate() - timedelta(days=9)

    make_sales(1, today=ten_days_ago)
    again = reports_refresh()

    assert SalesDaily.objects.get(day=ten_days_ago).orders == 2
    # The reopened day put back whole: its sales row, its two orders' customers, and (each
    # make_sales has a category and two products of its own) four products in two categories.
    assert closed_days_copied(again) == 1 + 4 + 2 + 2


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

    assert during
    assert set(during) == {("0", "48MB")}
    assert defaults != ("0", "48MB")
    assert after == defaults


def test_parallel_workers_can_be_given_back_to_the_refresh(settings):
    settings.REPORTS_REFRESH_PARALLEL_WORKERS = 2
    during = _planner_settings_at_each_refresh(reports_refresh)

    assert {workers for workers, _work_mem in during} == {"2"}


def test_a_reset_of_the_shop_forgets_every_counted_day_and_the_next_refresh_counts_all_again(settings):
    settings.REPORTS_RECENT_DAYS = 1
    make_sales(5)
    reports_refresh()
    assert ClosedSalesDay.objects.exists()

    shop_reset()  # the demo's --reset: every order gone, ids from 1 again

    assert not ClosedSalesDay.objects.exists()
    assert ReportWindow.objects.get().recent_until is None
    make_sales(2)
    reports_refresh()
    assert sorted(SalesDaily.objects.values_list("orders", flat=True)) == [1, 1]
