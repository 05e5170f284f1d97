"""The category page on a phone: its products come first, its filters behind a "Filters" button;
on a desktop the filters are a sidebar. A browser picks the thumbnail its screen needs."""

import pytest
from selenium.webdriver.common.by import By

from tests.e2e.conftest import emulate_desktop, emulate_phone, follow, open_page, wait
from tests.e2e.storefront import storefront_shop

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def shop(media_root) -> dict:
    """The shop, its pictures in a folder of the test's own."""
    return storefront_shop()


def test_on_a_phone_the_products_come_first_and_the_filters_open_from_their_button(
    live_server, browser, screenshot, shop
):
    emulate_phone(browser)
    open_page(browser, live_server.url + "/c/shirts/")
    filters = browser.find_element(By.CSS_SELECTOR, "form.filters")
    button = browser.find_element(By.XPATH, "//main//label[normalize-space()='Filters']")
    cards = browser.find_elements(By.CSS_SELECTOR, "section[aria-label='Products'] .card")

    assert not filters.is_displayed()
    assert button.is_displayed()
    first_screen = browser.execute_script("return window.innerHeight")
    # The first row of cards, pictures and names, is on the first screen: two of them side by side.
    assert cards[0].rect["y"] + cards[0].rect["height"] <= first_screen
    assert cards[1].rect["y"] == cards[0].rect["y"]
    assert cards[1].rect["x"] > cards[0].rect["x"]

    button.click()
    wait(browser).until(lambda driver: filters.is_displayed())
    screenshot("filters-open-phone")
    browser.find_element(By.CSS_SELECTOR, "input[name=color][value=blue]").click()
    follow(browser, browser.find_element(By.XPATH, "//main//button[normalize-space()='Apply filters']"),
           path="/c/shirts/", query={"color": "blue"})  # fmt: skip
    assert {card.text.split("\n")[0] for card in browser.find_elements(By.CSS_SELECTOR, ".card .name")} == {
        shop["long"].name,
        "Fjord Flannel shirt, brushed, in blue 6",
        "Fjord Flannel shirt, brushed, in blue 12",
    }


def test_on_a_desktop_the_filters_are_a_sidebar_beside_the_products(live_server, browser, shop):
    open_page(browser, live_server.url + "/c/shirts/")
    filters = browser.find_element(By.CSS_SELECTOR, "form.filters")
    products = browser.find_element(By.CSS_SELECTOR, "section[aria-label='Products']")

    assert filters.is_displayed()
    assert not browser.find_element(By.CSS_SELECTOR, ".filters-button").is_displayed()
    assert filters.rect["x"] + filters.rect["width"] <= products.rect["x"]
    assert filters.rect["y"] <= products.rect["y"] + 1


def test_a_browser_picks_a_thumbnail_for_its_screen_from_srcset(live_server, browser, shop):
    emulate_phone(browser)
    open_page(browser, f"{live_server.url}/c/shirts/")
    card = browser.find_element(By.CSS_SELECTOR, "img.picture-card").get_attribute("currentSrc")
    emulate_desktop(browser)
    open_page(browser, f"{live_server.url}/p/{shop['long'].slug}/")
    desktop = browser.find_element(By.CSS_SELECTOR, "img.picture-page").get_attribute("currentSrc")

    assert desktop.endswith("-640w.webp")  # shown 540 px wide
    assert card.endswith("-160w.webp")  # shown 156 px wide on a 390 px phone
