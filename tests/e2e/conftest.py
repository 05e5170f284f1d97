"""Fixtures of the end-to-end tests: a headless Chromium driven by Selenium, and step screenshots."""

import base64
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.conf import settings
from pytest_django.live_server_helper import LiveServer
from selenium import webdriver
from selenium.common.exceptions import JavascriptException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.asgi_server import AsgiLiveServer

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots" / "e2e"
DESKTOP = (1280, 1000)
PHONE = (390, 844)
# Generous, as a bound: a passing wait returns as soon as its page is there, a busy machine is slow.
WAIT_SECONDS = 20
# Set on the window of the page being left: a new document has a new window, without it.
LEAVING_FLAG = "shopsiteE2eLeaving"


def wait(browser: WebDriver) -> WebDriverWait:
    """Return a bounded wait; the JavaScript context of a document being replaced may vanish mid-call."""
    return WebDriverWait(browser, WAIT_SECONDS, ignored_exceptions=[JavascriptException])


def open_page(browser: WebDriver, url: str) -> None:
    browser.get(url)
    wait(browser).until(lambda driver: driver.execute_script("return document.readyState") == "complete")


def follow(
    browser: WebDriver, element: WebElement, *, path: str | re.Pattern, query: dict[str, str] | None = None
) -> None:
    """Click a link or button that loads a new page, and wait until the page at `path` (a pattern
    matches the whole path) with at least the `query` parameters has loaded: a new document at that
    URL, fully loaded.

    It waits for the new page, never for the old one's elements to go stale: Chromium may answer a
    question about an element of a page being replaced with "Node with given id does not belong to
    the document". The flag set on the old page's window tells it apart from a new page at the same
    URL (a form submitted to itself).
    """
    expected = set((query or {}).items())

    def new_page_loaded(driver: WebDriver) -> bool:
        url = urlsplit(driver.current_url)
        at_path = path.fullmatch(url.path) if isinstance(path, re.Pattern) else url.path == path
        if not at_path or not expected <= set(parse_qsl(url.query, keep_blank_values=True)):
            return False
        return driver.execute_script(f"return !window.{LEAVING_FLAG} && document.readyState === 'complete'")

    browser.execute_script(f"window.{LEAVING_FLAG} = true")
    element.click()
    try:
        wait(browser).until(new_page_loaded)
    except TimeoutException:
        shown = path.pattern if isinstance(path, re.Pattern) else path
        pytest.fail(f"{shown} {query or ''} did not load within {WAIT_SECONDS} s: at {browser.current_url}")


def emulate_phone(browser: webdriver.Chrome) -> None:
    """Lay pages out as a 390x844 phone does (mobile viewport, overlay scrollbars) until `emulate_desktop`."""
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 1, "mobile": True},
    )


def emulate_desktop(browser: webdriver.Chrome) -> None:
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


@pytest.fixture(scope="session")
def live_server():
    """The site the browser tests open: under ASGI (uvicorn, shopsite.asgi's application), or
    under WSGI with `E2E_SERVER=wsgi` (pytest-django's own live server)."""
    wsgi = os.environ.get("E2E_SERVER", "asgi") == "wsgi"
    server = LiveServer("localhost") if wsgi else AsgiLiveServer()
    yield server
    server.stop()


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    """Return a headless Chromium with a fresh profile, from Debian's packages (never downloaded)."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        pytest.fail(
            f"end-to-end tests need {' and '.join(missing)}: apt-get install chromium chromium-driver",
            pytrace=False,
        )
    profile = tempfile.mkdtemp(prefix="shopsite-e2e-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # we run as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def screenshot(browser: webdriver.Chrome, request) -> Callable[[str], Path]:
    """Return a function saving the whole page as var/screenshots/e2e/<test module>/NN-<step>.png,
    NN counting up.

    The screenshots of an earlier run of the module are deleted first, so its folder shows this
    run only.
    """
    folder = SCREENSHOTS / request.module.__name__.rsplit(".", 1)[-1]
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("[0-9][0-9]-*.png"):
        old.unlink()
    steps = 0

    def save(step: str) -> Path:
        nonlocal steps
        steps += 1
        path = folder / f"{steps:02d}-{step}.png"
        # The full page, not only the window: Chromium renders beyond the viewport on request.
        # Rendered that tall the page has no scrollbar, so it is laid out at the window's full
        # width (innerWidth), not the width beside the scrollbar: clip to that, or to any overflow.
        height = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]["height"]
        width = browser.execute_script(
            "return Math.max(window.innerWidth, document.documentElement.scrollWidth)"
        )
        shot = browser.execute_cdp_cmd(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
            },
        )
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    return save
