"""The Content-Security-Policy breaks nothing in a real browser: Chromium reports no violation on
the shop's pages, the admin's (their scripts and widgets), the database health page and the
reports dashboard."""

import pytest
from selenium.webdriver.common.by import By

from reports.services import reports_refresh
from tests.conftest import wait_for_replicas
from tests.e2e.conftest import follow, open_page, wait
from tests.factories import CategoryFactory, OrderItemFactory, ProductFactory, UserFactory
from tests.reports.helpers import empty_report_views, make_sales

pytestmark = [
    # live_server implies a transactional database; the replicas too, for wait_for_replicas().
    pytest.mark.django_db(transaction=True, databases="__all__"),
]

PASSWORD = "correct horse battery"  # UserFactory's
# Run by Chromium before any script of each new document, so that no violation goes unheard.
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.effectiveDirective} blocked ${event.blockedURI || "inline"}`);
});
"""


@pytest.fixture
def empty_views_after():
    """Leave the report views unpopulated, as the other tests expect (the flush skips them)."""
    yield
    empty_report_views()


def violations(browser) -> list[str]:
    return browser.execute_script("return window.cspViolations")


def test_no_page_of_the_shop_or_the_admin_breaks_the_policy(live_server, browser, empty_views_after):
    shirts = CategoryFactory(slug="shirts", facets=["color"])
    product = ProductFactory(category=shirts, slug="blue-shirt", details={"color": "blue"})
    (order,) = make_sales(1)
    OrderItemFactory(order=order, product=product)
    reports_refresh()
    UserFactory(username="boss", is_staff=True, is_superuser=True)
    wait_for_replicas()
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_VIOLATIONS})
    found = {}

    for path in ["/", "/c/shirts/?color=blue", "/p/blue-shirt/", "/account/login/", "/admin/login/"]:
        open_page(browser, live_server.url + path)
        found[path] = violations(browser)
    browser.find_element(By.NAME, "username").send_keys("boss")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    follow(browser, browser.find_element(By.CSS_SELECTOR, "input[type=submit]"), path="/admin/")
    for path in [
        "/admin/",
        "/admin/catalog/product/",
        f"/admin/catalog/product/{product.pk}/change/",
        "/admin/catalog/product/add/",
        f"/admin/accounts/order/{order.pk}/change/",
        "/admin/reports/databasehealth/",
        "/admin/reports/dashboard/",
    ]:
        open_page(browser, live_server.url + path)
        found[path] = violations(browser)
        if path == "/admin/reports/databasehealth/":
            assert browser.find_elements(By.ID, "index-scans")

    assert browser.find_elements(By.ID, "sales-chart")
    assert {path: seen for path, seen in found.items() if seen} == {}


def test_the_browser_does_report_what_the_policy_blocks(live_server, browser):
    # The listener above hears violations: an inline style added to a page is one.
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_VIOLATIONS})
    open_page(browser, live_server.url + "/account/login/")

    browser.execute_script("""document.body.insertAdjacentHTML("beforeend", '<p style="color: red">x</p>')""")
    reported = wait(browser).until(violations, "no violation reported")  # dispatched asynchronously

    assert reported == ["style-src-attr blocked inline"]
