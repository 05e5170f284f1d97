"""A customer searches from the header's box (a typo still finds the product), filters a category by a
range of numbers, and reads a product's details with their labels and units; at 1280 and 390 px.

The live server reads from the real replicas, so each test waits for them to replay the catalog
it wrote before opening the first page.
"""

from collections.abc import Callable
from decimal import Decimal

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC

from tests.conftest import wait_for_replicas
from tests.e2e.conftest import PHONE, emulate_desktop, emulate_phone, follow, open_page, wait
from tests.factories import CategoryFactory, ProductFactory

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__")]

LAPTOP_FACETS = [
    ("brand", "Brand", "", "choice"),
    ("ram_gb", "RAM", "GB", "range"),
    ("screen_in", "Screen", "in", "range"),
    ("weight_g", "Weight", "g", "range"),
]


@pytest.fixture
def shop() -> None:
    laptops = CategoryFactory(name="Laptops", slug="laptops", facets=LAPTOP_FACETS)
    shirts = CategoryFactory(name="Shirts", slug="shirts", facets=["color", "size"])
    for n, (ram, screen) in enumerate([(8, 13.3), (16, 14), (32, 15.6), (64, 16)] * 2):
        brand = ["Lumen", "Vertex"][n % 2]
        noun = ["Ultrabook", "Workstation"][n // 4]
        ProductFactory(
            category=laptops,
            name=f"{brand} {noun} {ram} GB",
            slug=f"{brand}-{noun}-{ram}".lower(),
            price=Decimal(900 + 100 * n),
            stock=5,
            details={"brand": brand, "ram_gb": ram, "screen_in": screen, "weight_g": 1250 + 100 * n},
        )
    ProductFactory(category=shirts, name="Oxford shirt in blue", details={"color": "blue", "size": "M"})


def heading(browser: WebDriver) -> str:
    return wait(browser).until(EC.visibility_of_element_located((By.TAG_NAME, "h1"))).text


def cards(browser: WebDriver) -> list[str]:
    return [name.text for name in browser.find_elements(By.CSS_SELECTOR, "main .card .name")]


def at_width(browser: WebDriver, phone: bool) -> None:
    (emulate_phone if phone else emulate_desktop)(browser)
    wait(browser).until(
        lambda driver: (driver.execute_script("return window.innerWidth") == PHONE[0]) == phone
    )


def fits_the_screen(browser: WebDriver) -> bool:
    """Return whether the page is no wider than the window: nothing scrolls sideways."""
    return browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")


def screenshots_at_both_widths(browser: WebDriver, screenshot: Callable[[str], object], step: str) -> None:
    screenshot(step)
    at_width(browser, phone=True)
    assert fits_the_screen(browser), f"{browser.current_url} scrolls sideways at {PHONE[0]} px"
    screenshot(f"{step}-phone")
    at_width(browser, phone=False)


def test_a_customer_searches_with_a_typo_reads_the_details_and_filters_by_a_range(
    live_server, browser, screenshot, shop
):
    wait_for_replicas()
    open_page(browser, live_server.url + "/")

    # The header's search box, with two letters swapped: the ultrabooks all the same.
    box = browser.find_element(By.CSS_SELECTOR, "header form[role=search] input[name=q]")
    box.send_keys("Ultarbook")
    follow(
        browser,
        browser.find_element(By.CSS_SELECTOR, "header form[role=search] button"),
        path="/search/",
        query={"q": "Ultarbook"},
    )
    assert heading(browser) == "Results for “Ultarbook”"
    assert sorted(cards(browser)) == [
        "Lumen Ultrabook 32 GB",
        "Lumen Ultrabook 8 GB",
        "Vertex Ultrabook 16 GB",
        "Vertex Ultrabook 64 GB",
    ]
    assert browser.find_element(By.ID, "site-search").get_attribute("value") == "Ultarbook"
    (category,) = browser.find_elements(By.CSS_SELECTOR, "ul.categories li")
    assert category.find_element(By.TAG_NAME, "a").text == "Laptops"
    assert category.find_element(By.CLASS_NAME, "count").text == "4"
    screenshots_at_both_widths(browser, screenshot, "search-typo")

    # A result's page: its details with the category's labels and units.
    follow(
        browser, browser.find_element(By.LINK_TEXT, "Vertex Ultrabook 16 GB"), path="/p/vertex-ultrabook-16/"
    )
    rows = {
        row.find_element(By.TAG_NAME, "th").text: row.find_element(By.TAG_NAME, "td").text
        for row in browser.find_elements(By.CSS_SELECTOR, "table.details tr")
    }
    assert rows == {"Brand": "Vertex", "RAM": "16 GB", "Screen": "14 in", "Weight": "1,350 g"}
    screenshots_at_both_widths(browser, screenshot, "product-details")

    # Its category, filtered by a range of RAM typed in.
    follow(browser, browser.find_element(By.LINK_TEXT, "Laptops"), path="/c/laptops/")
    assert len(cards(browser)) == 8
    browser.find_element(By.ID, "id_ram_gb_min").send_keys("16")
    browser.find_element(By.ID, "id_ram_gb_max").send_keys("32")
    follow(
        browser,
        browser.find_element(By.XPATH, "//main//button[normalize-space()='Apply filters']"),
        path="/c/laptops/",
        query={"ram_gb_min": "16", "ram_gb_max": "32"},
    )
    assert sorted(cards(browser)) == [
        "Lumen Ultrabook 32 GB",
        "Lumen Workstation 32 GB",
        "Vertex Ultrabook 16 GB",
        "Vertex Workstation 16 GB",
    ]
    assert "RAM: 16\N{EN DASH}32 GB" in browser.find_element(By.CSS_SELECTOR, "ul.chips").text
    screenshots_at_both_widths(browser, screenshot, "range-filter")

    # A bucket of screen sizes shows as many laptops as it counts (the RAM range applies to it).
    bucket = browser.find_element(
        By.XPATH, "//fieldset[legend[starts-with(., 'Screen')]]//a[starts-with(., '15.5')]"
    )
    count = bucket.find_element(By.XPATH, "following-sibling::span[@class='count']").text
    follow(browser, bucket, path="/c/laptops/", query={"screen_in_min": "15.5", "screen_in_max": "16"})
    assert sorted(cards(browser)) == ["Lumen Ultrabook 32 GB", "Lumen Workstation 32 GB"]
    assert count == "2"
    screenshot("range-bucket")
