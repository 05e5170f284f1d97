"""Staff read the reports in a real browser: log in, open the dashboard, change the range,
download a CSV, open a report list."""

import csv
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from reports.services import reports_refresh
from tests.factories import UserFactory
from tests.reports.helpers import empty_report_views, make_sales

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("empty_views_after"),
]

WAIT_SECONDS = 10
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
    wait = WebDriverWait(browser, WAIT_SECONDS)
    browser.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)}
    )

    browser.get(live_server.url + "/admin/login/")
    browser.find_element(By.NAME, "username").send_keys("boss")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait.until(EC.presence_of_element_located((By.ID, "reports-dashboard-link")))
    screenshot("admin-index")

    browser.find_element(By.CSS_SELECTOR, "#reports-dashboard-link a").click()
    wait.until(EC.presence_of_element_located((By.ID, "sales-chart")))
    screenshot("dashboard")
    last_30_days = len(browser.find_elements(By.CSS_SELECTOR, "#sales-chart rect[data-day]"))
    assert last_30_days >= 28  # a bar a day (the default range is the last 30 days)
    assert "data as of" in browser.find_element(By.ID, "top-products").text.lower()

    today = timezone.localdate()
    form = browser.find_element(By.ID, "dashboard-filters")
    for name, day in (("date_from", today - timedelta(days=6)), ("date_to", today)):
        field = form.find_element(By.NAME, name)
        browser.execute_script("arguments[0].value = arguments[1]", field, day.isoformat())
    browser.find_element(By.ID, "dashboard-submit").click()
    wait.until(lambda driver: f"date_from={(today - timedelta(days=6)).isoformat()}" in driver.current_url)
    wait.until(EC.presence_of_element_located((By.ID, "sales-chart")))
    screenshot("dashboard-last-7-days")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#sales-chart rect[data-day]")) == 7

    browser.find_element(By.ID, "export-salesdaily").click()
    deadline = time.monotonic() + WAIT_SECONDS
    while not list(tmp_path.glob("*.csv")):
        assert time.monotonic() < deadline, "the CSV was not downloaded"
        time.sleep(0.05)
    (download,) = tmp_path.glob("*.csv")
    rows = list(csv.reader(download.read_text().splitlines()))
    assert len(rows) == 1 + 40  # a header and a day per order

    browser.get(live_server.url + "/admin/reports/salesdaily/")
    wait.until(EC.presence_of_element_located((By.ID, "report-data-as-of")))
    screenshot("sales-daily-report")
    assert "40" in browser.find_element(By.CSS_SELECTOR, ".paginator").text
