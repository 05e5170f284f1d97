"""The reports fit the screen: on a 390 px phone and a 1280 px desktop, the dashboard and the
report lists never scroll the page sideways; what is wider than the screen (the tables) scrolls
in its own box."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By

from reports.services import reports_refresh
from tests.e2e.conftest import DESKTOP, PHONE, emulate_desktop, emulate_phone, follow, open_page
from tests.factories import CustomerFactory, OrderFactory, OrderItemFactory, ProductFactory, UserFactory
from tests.reports.helpers import empty_report_views, make_sales, noon

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("empty_views_after"),
]

PASSWORD = "correct horse battery"  # UserFactory's

# How wide the page is; what reaches past the right edge of a window `arguments[0]` wide outside
# any box that scrolls sideways itself (overflow-x auto or scroll): the culprits of a page too wide;
# and which of admin's header, breadcrumbs and content hide some of theirs past their own edge.
PAGE_WIDTH_JS = """
const width = arguments[0];
const inScrollingBox = el => {
  for (let box = el.parentElement; box && box !== document.body; box = box.parentElement) {
    if (["auto", "scroll"].includes(getComputedStyle(box).overflowX)) return true;
  }
  return false;
};
const name = el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
  + [...el.classList].map(c => "." + c).join("");
const beyond = [...document.body.querySelectorAll("*")]
  .filter(el => el.getBoundingClientRect().right > width + 0.5 && !inScrollingBox(el))
  .map(name);
return {
  innerWidth: window.innerWidth,
  scrollWidth: document.documentElement.scrollWidth,
  scale: window.visualViewport.scale,
  beyond: beyond.slice(0, 20),
  clipped: [...document.querySelectorAll("#header, .breadcrumbs, #content")]
    .filter(el => el.scrollWidth > el.clientWidth).map(name),
};
"""

# The box around each table: whether it scrolls sideways, its right edge, its width and its content's.
TABLE_BOXES_JS = """
return Object.fromEntries(arguments[0].map(id => {
  const table = document.querySelector(`#${id} table`);
  const box = table.parentElement;
  return [id, {
    scrolls: ["auto", "scroll"].includes(getComputedStyle(box).overflowX),
    right: box.getBoundingClientRect().right,
    clientWidth: box.clientWidth,
    scrollWidth: box.scrollWidth,
  }];
}));
"""


@pytest.fixture
def empty_views_after():
    """Leave the report views unpopulated, as the other tests expect (the flush skips them)."""
    yield
    empty_report_views()


@pytest.fixture
def shop():
    """Forty days of sales, and six big orders (one every 100 days) of a customer and a product
    with long names, in a category with a long name: wide tables."""
    make_sales(40)
    product = ProductFactory(name="Extra-long stainless steel garden furniture set, twelve pieces")
    product.category.name = "Garden furniture and outdoor living"
    product.category.save()
    customer = CustomerFactory(name="Maximilian Alexander Featherstonehaugh-Worthington")
    today = timezone.localdate()
    for k in range(6):
        order = OrderFactory(
            customer=customer,
            status="delivered",
            total=Decimal("123456.78"),
            created=noon(today - timedelta(days=100 * k)),
        )
        OrderItemFactory(order=order, product=product, quantity=2, unit_price=Decimal("61728.39"))
    reports_refresh()
    UserFactory(username="boss", is_staff=True, is_superuser=True)


def log_in(browser, live_server) -> None:
    open_page(browser, live_server.url + "/admin/login/")
    browser.find_element(By.NAME, "username").send_keys("boss")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    follow(browser, browser.find_element(By.CSS_SELECTOR, "input[type=submit]"), path="/admin/")


def assert_no_sideways_scroll(browser, width: int) -> None:
    page = browser.execute_script(PAGE_WIDTH_JS, width)
    assert page["beyond"] == [], f"past the right edge at {width} px: {page['beyond']}"
    assert page["clipped"] == []
    # A phone lays a page wider than its screen out wider (innerWidth grows), to zoom it out.
    assert (page["innerWidth"], page["scale"]) == (width, 1)
    assert page["scrollWidth"] <= width, page


def test_the_reports_fit_a_phone_and_a_desktop_without_scrolling_sideways(
    live_server, browser, screenshot, shop
):
    # The widest category table: the 1st of a month three years back to the 1st of this month.
    last = timezone.localdate().replace(day=1)
    long_range = f"?date_from={last.replace(year=last.year - 3)}&date_to={last}&orders_over=0"
    log_in(browser, live_server)

    for device, (width, _) in (("phone", PHONE), ("desktop", DESKTOP)):
        if device == "phone":
            emulate_phone(browser)
        else:
            emulate_desktop(browser)

        open_page(browser, live_server.url + "/admin/reports/dashboard/")
        assert_no_sideways_scroll(browser, width)
        # The filters one under the other on a phone, side by side on a desktop; the same for the tiles.
        for selector, count in (("#dashboard-filters .field, #dashboard-submit", 4), (".kpi-tile", 3)):
            boxes = [element.rect for element in browser.find_elements(By.CSS_SELECTOR, selector)]
            assert len(boxes) == count
            lefts, tops = [box["x"] for box in boxes], [box["y"] for box in boxes]
            if device == "phone":
                assert len(set(lefts)) == 1, boxes
                assert tops == sorted(set(tops)), boxes
            else:
                assert lefts == sorted(set(lefts)), boxes
        # The chart as wide as its block, whatever the screen.
        chart = browser.find_element(By.ID, "sales-chart").rect
        block = browser.find_element(By.ID, "sales-by-day").rect
        assert chart["x"] >= block["x"]
        assert chart["x"] + chart["width"] <= block["x"] + block["width"] + 0.5
        assert chart["width"] >= min(block["width"], 960) - 1
        screenshot(f"dashboard-{device}")

        open_page(browser, live_server.url + "/admin/reports/dashboard/" + long_range)
        assert_no_sideways_scroll(browser, width)
        months = browser.find_elements(By.CSS_SELECTOR, "#category-monthly thead th.number")
        assert len(months) == 37 + 1  # and the total
        boxes = browser.execute_script(TABLE_BOXES_JS, ["top-products", "top-customers", "category-monthly"])
        for box in boxes.values():
            assert box["scrolls"]
            assert box["right"] <= width
        # Wider than any screen: the category table scrolls in its box.
        assert boxes["category-monthly"]["scrollWidth"] > boxes["category-monthly"]["clientWidth"]
        screenshot(f"dashboard-three-years-{device}")

        for report in ("productsales", "categorymonthly"):
            open_page(browser, f"{live_server.url}/admin/reports/{report}/")
            assert browser.find_elements(By.ID, "result_list")
            assert_no_sideways_scroll(browser, width)
            screenshot(f"{report}-{device}")
