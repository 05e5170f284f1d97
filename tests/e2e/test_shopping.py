"""A customer shops in a real browser: browse, filter, add to the cart, log in, check out, see the order.

The live server reads from the real replicas (its requests route as in production), so the test
waits for them to replay the catalog it wrote before opening the first page.
"""

import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as EC

from accounts.models import Order
from catalog.models import Product
from tests.conftest import wait_for_replicas
from tests.e2e.conftest import PHONE, emulate_desktop, emulate_phone, follow, open_page, wait
from tests.factories import (
    AddressFactory,
    CategoryFactory,
    CustomerFactory,
    DeliveryOptionFactory,
    ProductFactory,
    UserFactory,
)

pytestmark = [
    # live_server implies a transactional database; the replicas too, for wait_for_replicas().
    pytest.mark.django_db(transaction=True, databases="__all__"),
]

PASSWORD = "correct horse battery"  # UserFactory's

# Which visible form controls have no accessible name: neither a <label> (for= or wrapping,
# with text) nor aria-label / aria-labelledby. Returns how many were checked, and the culprits.
UNLABELLED_CONTROLS_JS = """
const notTyped = new Set(["hidden", "submit", "button", "image", "reset"]);
const controls = [...document.querySelectorAll("input, select, textarea")]
  .filter(el => !notTyped.has((el.getAttribute("type") || "").toLowerCase()))
  .filter(el => el.getClientRects().length > 0);
const named = el => [...(el.labels || [])].some(label => label.textContent.trim())
  || (el.getAttribute("aria-label") || "").trim()
  || (el.getAttribute("aria-labelledby") || "").split(/\\s+/).some(
       id => id && document.getElementById(id) && document.getElementById(id).textContent.trim());
return {checked: controls.length, unlabelled: controls.filter(el => !named(el)).map(el => el.outerHTML)};
"""


@pytest.fixture
def shop() -> dict[str, Product]:
    """Create two categories of products with colors and stock, and the customer Ada."""
    shirts = CategoryFactory(name="Shirts", slug="shirts", facets=["color", "size"])
    trousers = CategoryFactory(name="Trousers", slug="trousers", facets=["color", "size"])
    products = {
        "oxford": ProductFactory(
            category=shirts,
            name="Oxford Shirt",
            slug="oxford-shirt",
            price=Decimal("39.00"),
            stock=10,
            details={"color": "blue", "size": "M"},
        ),
        "chambray": ProductFactory(
            category=shirts,
            name="Chambray Shirt",
            slug="chambray-shirt",
            price=Decimal("32.00"),
            stock=2,
            details={"color": "blue", "size": "S"},
        ),
        "linen": ProductFactory(
            category=shirts,
            name="Linen Shirt",
            slug="linen-shirt",
            price=Decimal("45.00"),
            stock=3,
            details={"color": "white", "size": "L"},
        ),
        "flannel": ProductFactory(
            category=shirts,
            name="Flannel Shirt",
            slug="flannel-shirt",
            price=Decimal("29.50"),
            stock=0,
            details={"color": "red", "size": "M"},
        ),
        "chinos": ProductFactory(
            category=trousers,
            name="Blue Chinos",
            slug="blue-chinos",
            price=Decimal("55.00"),
            stock=5,
            details={"color": "blue", "size": "M"},
        ),
    }
    user = UserFactory(username="ada", email="ada@example.com", first_name="Ada")
    AddressFactory(customer=CustomerFactory(user=user, name="Ada Lovelace", email=user.email))
    DeliveryOptionFactory(name="Standard delivery", price=Decimal("4.95"))
    return products


def heading(browser: WebDriver) -> str:
    return wait(browser).until(EC.visibility_of_element_located((By.TAG_NAME, "h1"))).text


def main_text(browser: WebDriver) -> str:
    return browser.find_element(By.ID, "main").text


def button(browser: WebDriver, text: str) -> WebElement:
    return browser.find_element(By.XPATH, f"//main//button[normalize-space()='{text}']")


def field_labelled(browser: WebDriver, text: str) -> WebElement:
    """Return the input a visible <label> starting with `text` names, as a user finds it."""
    label = browser.find_element(By.XPATH, f"//main//label[starts-with(normalize-space(), '{text}')]")
    return browser.find_element(By.ID, label.get_attribute("for"))


def table_rows(browser: WebDriver, table: WebElement | None = None) -> list[list[str]]:
    """Return the text of each body row's cells of the first `table.lines` (or of `table`)."""
    table = table or browser.find_element(By.CSS_SELECTOR, "table.lines")
    return [
        [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        for row in table.find_elements(By.CSS_SELECTOR, "tbody tr")
    ]


def listed_products(browser: WebDriver) -> set[str]:
    return {
        name.text
        for name in browser.find_elements(By.CSS_SELECTOR, "section[aria-label='Products'] .card .name")
    }


def assert_controls_labelled(browser: WebDriver, *, at_least: int = 0) -> None:
    result = browser.execute_script(UNLABELLED_CONTROLS_JS)
    assert result["unlabelled"] == [], f"form controls without a label on {browser.current_url}"
    assert result["checked"] >= at_least, (
        f"expected {at_least}+ visible form controls on {browser.current_url}"
    )


def test_customer_filters_buys_and_finds_the_order_in_the_history(
    live_server, browser: WebDriver, screenshot: Callable[[str], object], shop: dict[str, Product]
):
    wait_for_replicas()

    # Home: the categories.
    open_page(browser, live_server.url + "/")
    assert heading(browser) == "Shop by category"
    assert "Shirts\n4 products" in main_text(browser)
    assert "Trousers\n1 product" in main_text(browser)
    screenshot("home")

    # The category lists its products only, with their stock.
    follow(
        browser,
        browser.find_element(By.XPATH, "//main//a[span[normalize-space()='Shirts']]"),
        path="/c/shirts/",
    )
    assert heading(browser) == "Shirts"
    assert listed_products(browser) == {"Oxford Shirt", "Chambray Shirt", "Linen Shirt", "Flannel Shirt"}
    page = main_text(browser)
    assert "4 products" in page
    assert "Only 2 left" in page
    assert "Out of stock" in page
    screenshot("category")
    emulate_phone(browser)
    wait(browser).until(lambda driver: driver.execute_script("return window.innerWidth") == PHONE[0])
    screenshot("category-phone")
    emulate_desktop(browser)
    wait(browser).until(lambda driver: driver.execute_script("return window.innerWidth") > PHONE[0])

    # Filter by color: only the blue shirts remain, and the filter shows as chosen.
    blue = browser.find_element(By.CSS_SELECTOR, "input[type=checkbox][name=color][value=blue]")
    blue.click()
    assert blue.is_selected()
    follow(
        browser,
        browser.find_element(By.XPATH, "//main//button[normalize-space()='Apply filters']"),
        path="/c/shirts/",
        query={"color": "blue"},
    )
    assert heading(browser) == "Shirts"
    assert listed_products(browser) == {"Oxford Shirt", "Chambray Shirt"}
    page = main_text(browser)
    assert "2 products" in page
    assert "Color: blue" in page
    assert "Linen Shirt" not in page
    assert "Blue Chinos" not in page
    assert browser.find_element(By.CSS_SELECTOR, "input[name=color][value=blue]").is_selected()
    screenshot("filtered")

    # The product page; two of it go into the cart.
    follow(browser, browser.find_element(By.LINK_TEXT, "Oxford Shirt"), path="/p/oxford-shirt/")
    assert heading(browser) == "Oxford Shirt"
    page = main_text(browser)
    assert "$39.00" in page
    assert "In stock" in page
    assert "Color blue" in page
    quantity = field_labelled(browser, "Quantity")
    quantity.clear()
    quantity.send_keys("2")
    screenshot("product")
    follow(browser, button(browser, "Add to cart"), path="/cart/")

    # The cart: the line and the total.
    assert heading(browser) == "Your cart"
    assert "Added to your cart." in main_text(browser)
    (line,) = table_rows(browser)
    assert line[0] == "Oxford Shirt"
    assert line[1] == "$39.00"
    assert line[3] == "$78.00"
    assert browser.find_element(By.CSS_SELECTOR, "table.lines input.qty").get_attribute("value") == "2"
    assert browser.find_element(By.CSS_SELECTOR, "p.totals").text == "Total: $78.00"
    assert_controls_labelled(browser, at_least=1)
    screenshot("cart")

    # Checking out asks a visitor to log in first.
    follow(
        browser,
        browser.find_element(By.LINK_TEXT, "Check out"),
        path="/account/login/",
        query={"next": "/checkout/"},
    )
    assert heading(browser) == "Log in"
    assert "Please log in to continue." in main_text(browser)
    assert_controls_labelled(browser, at_least=2)
    field_labelled(browser, "Username").send_keys("ada")
    field_labelled(browser, "Password").send_keys(PASSWORD)
    screenshot("login")
    follow(browser, button(browser, "Log in"), path="/checkout/")

    # Back at the checkout, logged in, with the cart kept.
    assert heading(browser) == "Checkout"
    assert table_rows(browser) == [["Oxford Shirt", "$39.00", "2", "$78.00"]]
    assert browser.find_element(By.CSS_SELECTOR, "p.totals").text == "Items: $78.00"
    assert "Order total with it: $82.95" in main_text(browser)  # the standard delivery, preselected
    assert "Log out" in browser.find_element(By.CSS_SELECTOR, "header").text
    assert_controls_labelled(browser)
    screenshot("checkout")
    follow(browser, button(browser, "Place order"), path=re.compile(r"/account/orders/\d+/"))

    # The order page shows the placed order.
    order = Order.objects.get()
    assert order.customer.name == "Ada Lovelace"
    assert order.total == Decimal("82.95")
    shop["oxford"].refresh_from_db()
    assert shop["oxford"].stock == 8
    assert heading(browser) == f"Order #{order.pk}"
    page = main_text(browser)
    assert f"Thank you! Your order #{order.pk} is placed." in page
    assert order.get_status_display().capitalize() in page
    assert table_rows(browser) == [["Oxford Shirt", "2", "$39.00", "$78.00"]]
    assert browser.find_element(By.CSS_SELECTOR, "table.lines tfoot").text == (
        "Delivery: Standard delivery $4.95\nTotal $82.95"
    )
    screenshot("order")

    # The order history lists it.
    follow(
        browser,
        browser.find_element(By.XPATH, "//header//a[normalize-space()='Orders']"),
        path="/account/orders/",
    )
    assert heading(browser) == "Your orders"
    history = browser.find_element(By.CSS_SELECTOR, f"section[aria-labelledby='order-{order.pk}']")
    assert f"Order #{order.pk}" in history.text
    assert table_rows(browser, history.find_element(By.CSS_SELECTOR, "table.lines")) == [
        ["Oxford Shirt", "2", "$39.00", "$78.00"]
    ]
    assert "Total $82.95" in history.text
    screenshot("order-history")
