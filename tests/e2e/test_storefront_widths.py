"""Every storefront page fits a 390 px phone and a 1280 px desktop: nothing scrolls the page
sideways, the category's products come first on a phone (its filters behind a "Filters" button),
and products' pictures load in their room. A screenshot of each page on each device is saved.

A new page of the storefront (search, the account's pages) is a new entry of STOREFRONT.
"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from catalog.models import Product
from tests.e2e.conftest import DESKTOP, PHONE, emulate_desktop, emulate_phone, follow, open_page, wait
from tests.e2e.storefront import storefront_shop
from tests.e2e.test_reports_widths import PAGE_WIDTH_JS

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

PASSWORD = "correct horse battery"  # UserFactory's


@dataclass(frozen=True)
class Page:
    name: str
    path: Callable[[dict], str]
    signed_in: bool = False  # opened by the customer, with lines in the cart; else by a visitor


STOREFRONT = [
    Page("home", lambda shop: "/"),
    Page("category", lambda shop: "/c/shirts/"),
    Page("category-filtered", lambda shop: "/c/shirts/?color=blue&price_max=100"),
    Page("product", lambda shop: f"/p/{shop['long'].slug}/"),
    Page("product-without-picture", lambda shop: f"/p/{shop['plain'].slug}/"),
    Page("search", lambda shop: "/search/?q=flannel+shirt"),
    Page("search-typo", lambda shop: "/search/?q=flanenl"),
    Page("search-refused", lambda shop: "/search/?q=x"),
    Page("login", lambda shop: "/account/login/"),
    Page("signup", lambda shop: "/account/signup/"),
    Page("not-found", lambda shop: "/no-such-page/"),
    Page("cart", lambda shop: "/cart/", signed_in=True),
    Page("checkout", lambda shop: "/checkout/", signed_in=True),
    Page("orders", lambda shop: "/account/orders/", signed_in=True),
    Page("order", lambda shop: f"/account/orders/{shop['order'].pk}/", signed_in=True),
    Page("account", lambda shop: "/account/", signed_in=True),
    Page("profile", lambda shop: "/account/profile/", signed_in=True),
    Page("addresses", lambda shop: "/account/addresses/", signed_in=True),
    Page("address-new", lambda shop: "/account/addresses/new/", signed_in=True),
    Page("password-change", lambda shop: "/account/password/", signed_in=True),
    Page("password-reset", lambda shop: "/account/password/reset/"),
]

# Each picture on the page: whether it has loaded (or failed), its box, and its width and height
# attributes; the layout shifts of the page so far (Chrome's own measure: CLS's parts).
PICTURES_JS = """
const observer = new PerformanceObserver(() => {});
observer.observe({type: "layout-shift", buffered: true});
const shifts = observer.takeRecords();  // the shifts so far, at once
observer.disconnect();
return {
  shift: shifts.reduce((sum, entry) => sum + (entry.hadRecentInput ? 0 : entry.value), 0),
  pictures: [...document.querySelectorAll("main img.picture")].map(img => ({
    natural: img.naturalWidth, current: img.currentSrc,
    width: img.getAttribute("width"), height: img.getAttribute("height"),
    box: [img.getBoundingClientRect().width, img.getBoundingClientRect().height],
  })),
};
"""

DECODED_JS = """
const done = arguments[arguments.length - 1];
Promise.all([...document.querySelectorAll("main img")].map(img => img.decode().catch(() => null))).then(done);
"""


@pytest.fixture
def shop(media_root) -> dict:
    """The shop, its pictures in a folder of the test's own."""
    return storefront_shop()


def page_width(browser: WebDriver, width: int) -> list[str]:
    """Return what makes the page wider than `width`, if anything."""
    page = browser.execute_script(PAGE_WIDTH_JS, width)
    problems = [f"past the right edge: {page['beyond']}"] if page["beyond"] else []
    if page["scrollWidth"] > width or (page["innerWidth"], page["scale"]) != (width, 1):
        problems.append(f"the document is {page['scrollWidth']} px wide in {page['innerWidth']} px: {page}")
    return problems


def pictures_in_place(browser: WebDriver) -> list[str]:
    """Return what is wrong with the page's pictures: one that did not load, has no size, or moved
    the page as it loaded."""
    browser.execute_script("document.querySelectorAll('main img').forEach(img => img.scrollIntoView())")
    wait(browser).until(lambda driver: driver.execute_script(
        "return [...document.querySelectorAll('main img')].every(img => img.complete)"
    ))  # fmt: skip
    browser.execute_script("window.scrollTo(0, 0)")
    # Decoded too, so that the screenshot shows them (decoding="async" may paint them a frame later).
    browser.execute_async_script(DECODED_JS)
    seen = browser.execute_script(PICTURES_JS)
    problems = [
        f"picture not loaded or without its size: {picture}"
        for picture in seen["pictures"]
        if not (picture["natural"] and picture["width"] and picture["height"] and picture["box"][1])
    ]
    if seen["shift"] > 0.01:
        problems.append(f"the page moved as it loaded: layout shift {seen['shift']:.3f}")
    return problems


def log_in_and_fill_the_cart(browser: WebDriver, live_server, shop: dict) -> None:
    open_page(browser, live_server.url + "/account/login/")
    browser.find_element(By.NAME, "username").send_keys("ada")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    follow(browser, browser.find_element(By.CSS_SELECTOR, "main button[type=submit]"), path="/")
    product: Product
    for product in shop["in_cart"]:
        if product.stock:
            open_page(browser, f"{live_server.url}/p/{product.slug}/")
            add = browser.find_element(By.XPATH, "//main//button[normalize-space()='Add to cart']")
            follow(browser, add, path="/cart/")


def test_every_storefront_page_fits_a_phone_and_a_desktop(live_server, browser, screenshot, shop):
    problems = []
    for device, (width, _) in (("phone", PHONE), ("desktop", DESKTOP)):
        if device == "phone":
            emulate_phone(browser)
        else:
            emulate_desktop(browser)
            browser.delete_all_cookies()  # a visitor again
        signed_in = False
        for page in STOREFRONT:
            if page.signed_in and not signed_in:
                log_in_and_fill_the_cart(browser, live_server, shop)
                signed_in = True
            open_page(browser, live_server.url + page.path(shop))
            problems += [f"{page.name} ({device}): {problem}" for problem in page_width(browser, width)]
            problems += [f"{page.name} ({device}): {problem}" for problem in pictures_in_place(browser)]
            screenshot(f"{page.name}-{device}")

    assert problems == [], "\n".join(problems)
