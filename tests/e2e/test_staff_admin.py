"""Staff run the orders in admin at 1280 px: "shopsite administration", an order list that fits the
screen, the lifecycle's actions saying what they did, order lines that read "2 x Product name",
and a customer's page that leads to their orders."""

import re
from decimal import Decimal

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from accounts.models import Order, OrderStatus
from tests.e2e.conftest import DESKTOP, follow, open_page
from tests.e2e.test_reports_widths import PAGE_WIDTH_JS
from tests.factories import CustomerFactory, OrderFactory, OrderItemFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

PASSWORD = "correct horse battery"  # UserFactory's
# Whether the order list's table is wider than its box (it would scroll inside it).
RESULTS_OVERFLOW_JS = """
const box = document.querySelector("#changelist .results");
return [box.scrollWidth, box.clientWidth];
"""


@pytest.fixture
def shop() -> dict:
    """A customer with long names and three orders (two paid), other customers' orders, and staff."""
    customer = CustomerFactory(
        name="Maximilian Alexander Featherstonehaugh-Worthington",
        email="maximilian.alexander.featherstonehaugh-worthington@example.com",
    )
    lamp = ProductFactory(name="Extra-long stainless steel garden furniture set, twelve pieces")
    mug = ProductFactory(name="Enamel camping mug")
    orders = [
        OrderFactory(customer=customer, status=status, total=Decimal("123456.78"))
        for status in (OrderStatus.PAID, OrderStatus.PAID, OrderStatus.DELIVERED)
    ]
    OrderItemFactory(order=orders[0], product=lamp, quantity=2, unit_price=Decimal("61728.39"))
    OrderItemFactory(order=orders[0], product=mug, quantity=1, unit_price=Decimal("0.00"))
    for _ in range(3):
        OrderFactory()
    UserFactory(username="boss", is_staff=True, is_superuser=True)
    return {"customer": customer, "orders": orders}


def test_staff_run_the_orders_in_an_admin_that_fits_the_screen(live_server, browser, screenshot, shop):
    open_page(browser, live_server.url + "/admin/login/")
    assert browser.find_element(By.ID, "site-name").text == "shopsite administration"
    browser.find_element(By.NAME, "username").send_keys("boss")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    follow(browser, browser.find_element(By.CSS_SELECTOR, "input[type=submit]"), path="/admin/")
    assert browser.title == "shopsite administration | shopsite administration"
    assert browser.find_element(By.CSS_SELECTOR, "#content h1").text == "shopsite administration"
    screenshot("admin-index")

    # The order list fits 1280 px: no sideways scroll of the page, nor of its table in its box.
    open_page(browser, live_server.url + "/admin/accounts/order/")
    screenshot("order-list")
    page = browser.execute_script(PAGE_WIDTH_JS, DESKTOP[0])
    assert page["beyond"] == []
    assert page["scrollWidth"] <= DESKTOP[0]
    table, box = browser.execute_script(RESULTS_OVERFLOW_JS)
    assert table <= box

    # Ship the paid orders among those chosen: the list says how many moved and how many could not.
    first, _, delivered = shop["orders"]
    for order in (first, delivered):
        browser.find_element(By.CSS_SELECTOR, f"input[name=_selected_action][value='{order.pk}']").click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("mark_shipped")
    go = browser.find_element(By.CSS_SELECTOR, "button[name=index]")
    follow(browser, go, path="/admin/accounts/order/")
    said = browser.find_element(By.CSS_SELECTOR, "ul.messagelist").text
    assert said == "Marked 1 order shipped; skipped 1 order that was not paid."
    assert Order.objects.get(pk=first.pk).status == OrderStatus.SHIPPED
    screenshot("orders-shipped")

    # An order's lines read as what was bought.
    open_page(browser, f"{live_server.url}/admin/accounts/order/{first.pk}/change/")
    lines = [cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "#items-group td.original p")]
    assert lines == [
        "2 x Extra-long stainless steel garden furniture set, twelve pieces",
        "1 x Enamel camping mug",
    ]
    screenshot("order")

    # The customer's page leads to their orders, and only theirs.
    open_page(browser, f"{live_server.url}/admin/accounts/customer/{shop['customer'].pk}/change/")
    link = browser.find_element(By.LINK_TEXT, "3 orders")
    screenshot("customer")
    follow(browser, link, path="/admin/accounts/order/", query={"customer": str(shop["customer"].pk)})
    listed = {
        int(re.sub(r"\D", "", row.get_attribute("value")))
        for row in browser.find_elements(By.CSS_SELECTOR, "input[name=_selected_action]")
    }
    assert listed == {order.pk for order in shop["orders"]}
    assert "Maximilian Alexander" in browser.find_element(By.ID, "changelist-filter").text
    screenshot("customer-orders")
