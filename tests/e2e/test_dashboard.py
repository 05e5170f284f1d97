"""Staff read the reports in a real browser: log in, open the dashboard, change the range,
download a CSV, open a report list."""

import csv
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By

from reports.services import reports_refresh
from tests.e2e.conftest import follow, open_page, wait
from tests.factories import UserFactory
from tests.reports.helpers import empty_report_views, make_sales

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("empty_views_after"),
]

PASSWORD = "correct horse battery"  # UserFactory's


@pytest.fixture
def empty_views_after():
    """Leave the report views unpopulated, as the other tests expect (the flush skips them)."""
    yield
    empty_report_views()


def test_staff_read_the_dashboard_change_the_range_download_a_csv_and_open_a_report(
    live_server, browser, screenshot, tmp_path
):
    make_sales(40)
    reports_refresh()
    UserFactory(username="boss", is_staff=True, is_superuser=True)
    browser.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)}
    )

    open_page(browser, live_server.url + "/admin/login/")
    browser.find_element(By.NAME, "username").send_keys("boss")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    follow(browser, browser.find_element(By.CSS_SELECTOR, "input[type=submit]"), path="/admin/")
    assert browser.find_elements(By.ID, "reports-dashboard-link")
    screenshot("admin-index")

    follow(
        browser,
        browser.find_element(By.CSS_SELECTOR, "#reports-dashboard-link a"),
        path="/admin/reports/dashboard/",
    )
    assert browser.find_elements(By.ID, "sales-chart")
    screenshot("dashboard")
    last_30_days = len(browser.find_elements(By.CSS_SELECTOR, "#sales-chart rect[data-day]"))
    assert last_30_days >= 28  # a bar a day (the default range is the last 30 days)
    # The range reaches today: the days to yesterday as of the refresh, today counted live.
    today = timezone.localdate()
    as_of = browser.find_element(By.CSS_SELECTOR, "#top-products .data-as-of").text
    assert re.fullmatch(
        rf"To {today - timedelta(days=1)}: as of the refresh at \d{{4}}-\d\d-\d\d \d\d:\d\d UTC\. "
        rf"From {today}: live, counted at \d\d:\d\d:\d\d UTC\.",
        as_of,
    ), as_of
    assert browser.find_element(By.ID, "sales-totals").text == "$600.00 from 30 orders over 30 days."

    form = browser.find_element(By.ID, "dashboard-filters")
    for name, day in (("date_from", today - timedelta(days=6)), ("date_to", today)):
        field = form.find_element(By.NAME, name)
        browser.execute_script("arguments[0].value = arguments[1]", field, day.isoformat())
    # The same path again: follow() tells the new page from this one.
    follow(
        browser,
        browser.find_element(By.ID, "dashboard-submit"),
        path="/admin/reports/dashboard/",
        query={"date_from": (today - timedelta(days=6)).isoformat(), "date_to": today.isoformat()},
    )
    screenshot("dashboard-last-7-days")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#sales-chart rect[data-day]")) == 7

    browser.find_element(By.ID, "export-salesdaily").click()
    # Chromium writes to a .crdownload file and renames it to .csv once complete.
    (download,) = wait(browser).until(lambda _: list(tmp_path.glob("*.csv")), "the CSV was not downloaded")
    rows = list(csv.reader(download.read_text().splitlines()))
    assert len(rows) == 1 + 40  # a header and a day per order

    open_page(browser, live_server.url + "/admin/reports/salesdaily/")
    assert browser.find_elements(By.ID, "report-data-as-of")
    screenshot("sales-daily-report")
    assert "40" in browser.find_element(By.CSS_SELECTOR, ".paginator").text
