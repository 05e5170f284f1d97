"""A forgotten password, reset in a real browser: "Forgot your password?" on the login page, the
emailed link (Django's test outbox: the live server runs in this process), a new password, and a
login with the email. Each page at 1280 and 390 px."""

import re

import pytest
from django.core import mail
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e.conftest import follow, open_page
from tests.e2e.test_account import NEW_PASSWORD, PASSWORD, at_both_widths, log_in, shop  # noqa: F401 (fixtures)
from tests.e2e.test_shopping import button, field_labelled, heading, main_text

pytestmark = [
    # live_server implies a transactional database; the replicas too, for wait_for_replicas().
    pytest.mark.django_db(transaction=True, databases="__all__"),
]


def test_a_forgotten_password_is_reset_through_the_emailed_link(
    live_server,
    browser: WebDriver,
    at_both_widths,  # noqa: F811 (the fixture, imported)
    screenshot,
    shop,  # noqa: F811
):
    open_page(browser, live_server.url + "/account/login/")
    follow(
        browser,
        browser.find_element(By.LINK_TEXT, "Forgot your password?"),
        path="/account/password/reset/",
    )
    assert heading(browser) == "Forgot your password?"
    field_labelled(browser, "Email").send_keys("ADA@example.com")
    at_both_widths("reset-ask", fits=True)
    follow(browser, button(browser, "Email me a link"), path="/account/password/reset/sent/")
    assert heading(browser) == "Check your email"
    assert "If an account uses the address you typed" in main_text(browser)
    at_both_widths("reset-sent", fits=True)

    # The emailed link, opened as a mail program opens it.
    (email,) = mail.outbox
    assert email.to == ["ada@example.com"]
    link = re.search(r"http://\S+/account/password/reset/\S+/", email.body)[0]
    assert link.startswith(live_server.url)
    open_page(browser, link)
    assert heading(browser) == "Choose a new password"
    field_labelled(browser, "New password").send_keys(NEW_PASSWORD)
    field_labelled(browser, "New password confirmation").send_keys(NEW_PASSWORD)
    at_both_widths("reset-choose", fits=True)
    follow(browser, button(browser, "Set my password"), path="/account/password/reset/done/")
    assert heading(browser) == "Password set"
    screenshot("reset-done")

    # The old password no longer works; the new one does, with the email.
    open_page(browser, live_server.url + "/account/login/")
    field_labelled(browser, "Username or email").send_keys("ada")
    field_labelled(browser, "Password").send_keys(PASSWORD)
    follow(browser, button(browser, "Log in"), path="/account/login/")
    assert "Please enter a correct username or email and password." in main_text(browser)
    log_in(browser, live_server.url, "ada@example.com", NEW_PASSWORD)
    # The link worked once.
    open_page(browser, link)
    assert heading(browser) == "This link does not work"
