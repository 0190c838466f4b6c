"""Headless Debian Chromium driven by Selenium, for the UI tests.

Never downloads a browser or driver: the driver path is explicit (so selenium-manager is never
asked) and Chromium runs with its background networking off. Every page gets recorders for
alert/confirm/prompt and for CSP violations before any of its own scripts run.
"""
import os
import shutil
import time
from pathlib import Path

import pytest

os.environ.setdefault("SE_AVOID_STATS", "true")  # selenium's usage statistics: off

from conftest import poll  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("PERISCOPE_SCREENSHOTS", ROOT / "target" / "ui-screenshots"))

RECORDERS = """
window.__dialogs = [];
window.__csp = [];
for (const name of ["alert", "confirm", "prompt", "print"]) {
  window[name] = function (message) { window.__dialogs.push(name + ":" + String(message)); return null; };
}
document.addEventListener("securitypolicyviolation", function (event) {
  window.__csp.push(event.violatedDirective + " " + event.blockedURI);
});
"""


def browser_available():
    return shutil.which(CHROMIUM) is not None and Path(CHROMEDRIVER).exists()


class Browser:
    """A thin wrapper: navigation with timing, polling, recorders and screenshots."""

    def __init__(self, driver):
        self.driver = driver
        self.page_times = {}

    def get(self, url, name=None):
        started = time.monotonic()
        self.driver.get(url)
        elapsed = time.monotonic() - started
        if name:
            self.page_times[name] = elapsed
        return elapsed

    def wait(self, predicate, timeout=15.0, what="condition"):
        # The DOM may be mid-swap: poll keeps going through the errors that causes.
        return poll(predicate, timeout=timeout, what=what)

    def click(self, element):
        """Scrolls the element to the middle (clear of the sticky header), then clicks."""
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()

    def css(self, selector):
        return self.driver.find_elements("css selector", selector)

    def one(self, selector):
        return self.wait(lambda: (self.css(selector) or [None])[0], what=selector)

    def screenshot(self, name):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(1400, max(900, min(height + 40, 4000)))
        path = SCREENSHOTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        self.driver.set_window_size(1400, 900)
        return path

    def color_scheme(self, scheme):
        """Emulates the system's light or dark preference."""
        self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {
            "features": [{"name": "prefers-color-scheme", "value": scheme}]})

    def dialogs(self):
        return self.driver.execute_script("return window.__dialogs || []")

    def csp_violations(self):
        return self.driver.execute_script("return window.__csp || []")

    def console_errors(self):
        return [entry for entry in self.driver.get_log("browser") if entry.get("level") == "SEVERE"]


@pytest.fixture(scope="module")
def browser():
    if not browser_available():
        pytest.skip("needs Debian chromium and chromium-driver (.ci/run installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--no-first-run", "--disable-sync",
                     "--window-size=1400,900"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORDERS})
    instance = Browser(driver)
    yield instance
    if instance.page_times:
        print("\npage load times (s):", {k: round(v, 3) for k, v in instance.page_times.items()})
    driver.quit()
