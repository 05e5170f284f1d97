"""Fixtures of the end-to-end tests: a headless Chromium driven by Selenium, and step screenshots."""

import base64
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots" / "e2e"
DESKTOP = (1280, 1000)
PHONE = (390, 844)


def emulate_phone(browser: webdriver.Chrome) -> None:
    """Lay pages out as a 390x844 phone does (mobile viewport, overlay scrollbars) until `emulate_desktop`."""
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 1, "mobile": True},
    )


def emulate_desktop(browser: webdriver.Chrome) -> None:
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


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
