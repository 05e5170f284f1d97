"""A customer's account in a real browser: log in with the email, check out to an address of the book
by express delivery, read the confirmation email, cancel the order, add an address, change the
password. Each page at 1280 and 390 px. (A forgotten password: tests/e2e/test_password_reset.py.)

Emails are Django's test outbox (locmem): the live server runs in this process, and sends them
once each order's transaction commits, before it answers.
"""

import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.core import mail
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from accounts.models import Address, Order, OrderStatus
from catalog.models import Product
from tests.conftest import wait_for_replicas
from tests.e2e.conftest import PHONE, emulate_desktop, emulate_phone, follow, open_page, wait
from tests.e2e.test_shopping import assert_controls_labelled, button, field_labelled, heading, main_text
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
NEW_PASSWORD = "plum-orchard-42-lantern"
# Run by Chromium before any script of each new document: the policy's violations, if any.
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.effectiveDirective} blocked ${event.blockedURI || "inline"}`);
});
"""


@pytest.fixture
def shop() -> dict[str, object]:
    """A teapot, the customer Ada with two addresses (home, the default, and work), and two ways to ship."""
    kitchen = CategoryFactory(name="Kitchen", slug="kitchen", facets=["color"])
    teapot = ProductFactory(
        category=kitchen,
        name="Teapot",
        slug="teapot",
        price=Decimal("30.00"),
        stock=5,
        details={"color": "blue"},
    )
    user = UserFactory(username="ada", email="ada@example.com", first_name="Ada")
    ada = CustomerFactory(user=user, name="Ada Lovelace", email=user.email)
    AddressFactory(
        customer=ada, name="Ada Lovelace", line1="12 St James's Square", city="London", postcode="SW1Y 4JH"
    )
    work = AddressFactory(
        customer=ada,
        is_default=False,
        name="Ada Lovelace",
        line1="Analytical Engine Works",
        line2="Unit 2",
        city="Manchester",
        postcode="M1 1AE",
    )
    DeliveryOptionFactory(name="Standard delivery", price=Decimal("4.95"), days_min=3, days_max=5, position=0)
    express = DeliveryOptionFactory(
        name="Express delivery", price=Decimal("12.50"), days_min=1, days_max=2, position=1
    )
    wait_for_replicas()
    return {"teapot": teapot, "ada": ada, "work": work, "express": express}


@pytest.fixture
def at_both_widths(browser: WebDriver, screenshot: Callable[[str], object]) -> Callable[..., None]:
    """Return a function saving the page as a 1280 px desktop and a 390 px phone show it; with
    `fits`, also check that the phone's page does not scroll sideways."""

    def save(step: str, *, fits: bool = False) -> None:
        screenshot(step)
        emulate_phone(browser)
        wait(browser).until(lambda driver: driver.execute_script("return window.innerWidth") == PHONE[0])
        screenshot(f"{step}-phone")
        if fits:
            width = browser.execute_script("return document.documentElement.scrollWidth")
            assert width <= PHONE[0], f"{browser.current_url} is {width} px wide on a {PHONE[0]} px phone"
        emulate_desktop(browser)
        wait(browser).until(lambda driver: driver.execute_script("return window.innerWidth") > PHONE[0])

    return save


def log_in(browser: WebDriver, url: str, username: str, password: str) -> None:
    open_page(browser, url + "/account/login/")
    field_labelled(browser, "Username or email").send_keys(username)
    field_labelled(browser, "Password").send_keys(password)
    follow(browser, button(browser, "Log in"), path="/")
    assert "Log out" in browser.find_element(By.CSS_SELECTOR, "header").text


def log_out(browser: WebDriver) -> None:
    follow(browser, browser.find_element(By.XPATH, "//header//button[normalize-space()='Log out']"), path="/")


def violations(browser: WebDriver) -> list[str]:
    return browser.execute_script("return window.cspViolations || []")


def test_customer_checks_out_to_an_address_by_express_cancels_and_looks_after_the_account(
    live_server, browser: WebDriver, at_both_widths, screenshot, shop, tmp_path
):
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_VIOLATIONS})
    seen = []

    # Logged in with the email, typed in another case.
    log_in(browser, live_server.url, "Ada@Example.com", PASSWORD)

    # A teapot into the cart, then the checkout.
    open_page(browser, live_server.url + "/p/teapot/")
    follow(browser, button(browser, "Add to cart"), path="/cart/")
    follow(browser, browser.find_element(By.LINK_TEXT, "Check out"), path="/checkout/")
    assert heading(browser) == "Checkout"
    home = browser.find_element(By.XPATH, "//label[contains(., '12 St James')]/input[@name='address']")
    assert home.is_selected()  # the default address, preselected
    assert browser.find_element(By.XPATH, "//label[contains(., 'Standard delivery')]/input").is_selected()
    page = main_text(browser)
    assert "Order total with it: $34.95" in page
    assert "Order total with it: $42.50" in page
    assert_controls_labelled(browser, at_least=4)
    at_both_widths("checkout")
    seen += violations(browser)

    # Work, by express.
    browser.find_element(By.CSS_SELECTOR, f"input[name=address][value='{shop['work'].pk}']").click()
    browser.find_element(By.CSS_SELECTOR, f"input[name=delivery][value='{shop['express'].pk}']").click()
    screenshot("checkout-chosen")
    follow(browser, button(browser, "Place order"), path=re.compile(r"/account/orders/\d+/"))

    order = Order.objects.get()
    assert (order.total, order.delivery_name, order.ship_line1) == (
        Decimal("42.50"),
        "Express delivery",
        "Analytical Engine Works",
    )
    assert heading(browser) == f"Order #{order.pk}"
    page = main_text(browser)
    assert f"Thank you! Your order #{order.pk} is placed." in page
    assert "Express delivery, to:\nAda Lovelace\nAnalytical Engine Works\nUnit 2\nM1 1AE Manchester" in page
    assert browser.find_element(By.CSS_SELECTOR, "table.lines tfoot").text == (
        "Delivery: Express delivery $12.50\nTotal $42.50"
    )
    at_both_widths("order")
    seen += violations(browser)

    # The confirmation email, sent once the order committed: its text, and its HTML as a mail
    # program shows it.
    (email,) = mail.outbox
    assert email.to == ["ada@example.com"]
    assert email.subject == f"Your order #{order.pk} is placed"
    for text in (
        "1 x Teapot at $30.00: $30.00",
        "Delivery, Express delivery: $12.50",
        "Total: $42.50",
        "Analytical Engine Works\nUnit 2\nM1 1AE Manchester",
    ):
        assert text in email.body
    html = tmp_path / "confirmation.html"
    html.write_text(email.alternatives[0][0])
    open_page(browser, html.as_uri())
    assert "Thank you for your order" in browser.find_element(By.TAG_NAME, "body").text
    at_both_widths("confirmation-email")

    # Cancelled before it ships: the teapot goes back on the shelf.
    open_page(browser, f"{live_server.url}/account/orders/{order.pk}/")
    follow(browser, button(browser, "Cancel this order"), path=f"/account/orders/{order.pk}/")
    page = main_text(browser)
    assert f"Order #{order.pk} is cancelled: nothing will be sent." in page
    assert "Cancelled" in page
    assert "Cancel this order" not in page
    assert Order.objects.get().status == OrderStatus.CANCELLED
    assert Product.objects.get(pk=shop["teapot"].pk).stock == 5
    screenshot("order-cancelled")

    # The account, and a new address, made the default.
    follow(
        browser, browser.find_element(By.XPATH, "//header//a[normalize-space()='Account']"), path="/account/"
    )
    assert heading(browser) == "Your account"
    assert "Signed in as Ada Lovelace, ada@example.com." in main_text(browser)
    at_both_widths("account", fits=True)
    seen += violations(browser)
    follow(browser, browser.find_element(By.PARTIAL_LINK_TEXT, "Your addresses"), path="/account/addresses/")
    follow(browser, browser.find_element(By.LINK_TEXT, "Add an address"), path="/account/addresses/new/")
    for label, value in [
        ("Full name", "Ada King"),
        ("Address", "Ockham Park"),
        ("Town or city", "Ockham"),
        ("Postal code", "GU23 6NG"),
        ("Country", "United Kingdom"),
    ]:
        field_labelled(browser, label).send_keys(value)
    browser.find_element(By.NAME, "make_default").click()
    assert_controls_labelled(browser, at_least=7)
    at_both_widths("address-new", fits=True)
    seen += violations(browser)
    follow(browser, button(browser, "Save the address"), path="/account/addresses/")
    assert "The address is added to your address book." in main_text(browser)
    cards = browser.find_elements(By.CSS_SELECTOR, "ul.address-book > li")
    assert cards[0].text.startswith("Ada King\nOckham Park\nGU23 6NG Ockham\nUnited Kingdom\nDefault address")
    assert len(cards) == 3
    assert Address.objects.get(is_default=True).line1 == "Ockham Park"
    at_both_widths("addresses", fits=True)
    seen += violations(browser)

    # A new password; then out, and in again with it.
    open_page(browser, live_server.url + "/account/")
    follow(browser, browser.find_element(By.PARTIAL_LINK_TEXT, "Password"), path="/account/password/")
    field_labelled(browser, "Old password").send_keys(PASSWORD)
    field_labelled(browser, "New password").send_keys(NEW_PASSWORD)
    field_labelled(browser, "New password confirmation").send_keys(NEW_PASSWORD)
    at_both_widths("password-change", fits=True)
    seen += violations(browser)
    follow(browser, button(browser, "Change my password"), path="/account/password/changed/")
    assert heading(browser) == "Password changed"
    log_out(browser)
    log_in(browser, live_server.url, "ada@example.com", NEW_PASSWORD)

    assert seen == []
