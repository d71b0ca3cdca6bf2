"""Headless Chromium for tests (Debian ``chromium`` + ``chromium-driver``, driven by selenium).

A missing browser is a test failure with a message saying how to install it (CI installs it in ``.ci/run``),
never a skip. The browser is cut off from the network (an unreachable proxy and a resolver that finds no
host), so a page that tries a request cannot reach anything, and every request it tries is reported.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CLSM_GEO_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = os.environ.get("CLSM_GEO_CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
INSTALL_HINT = ("headless Chromium is needed for the browser tests: install it with "
                "`apt-get update && apt-get install -y chromium chromium-driver` (CI does it in .ci/run) "
                "and `pip install selenium` (the test extra)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
         # no way out: any request the page tries fails locally (and is still logged, so tests see it)
         "--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost"]


def require_browser():
    """The selenium module, or fail the test saying what to install."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).is_file()]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found; {INSTALL_HINT}", pytrace=False)
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.fail(f"selenium is not installed; {INSTALL_HINT}", pytrace=False)
    from selenium import webdriver

    return webdriver


@dataclass
class PageReport:
    console: list[dict] = field(default_factory=list)  # browser log entries (level, message)
    requests: list[str] = field(default_factory=list)  # every URL the page requested (devtools log)
    resources: list[str] = field(default_factory=list)  # resource timing entries seen by the page
    screenshot: Path | None = None

    @property
    def errors(self) -> list[str]:
        return [e["message"] for e in self.console if e.get("level") == "SEVERE"]

    def remote(self) -> list[str]:
        return sorted({u for u in self.requests + self.resources if not u.startswith(("file:", "data:", "about:"))})


@contextlib.contextmanager
def chromium(width: int = 1200, height: int = 800):
    """A headless Chromium (selenium driver) with a fresh profile, closed afterwards."""
    webdriver = require_browser()
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # selenium must never look for drivers online
    profile = tempfile.mkdtemp(prefix="clsm-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + [f"--user-data-dir={profile}", f"--window-size={width},{height}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def load(driver, path: Path, screenshot: Path | None = None, *, settle: float = 0.5) -> PageReport:
    """Open ``path`` from file://, wait for the map to draw, collect console, requests and a screenshot."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("performance")  # drop what the start page (new tab) requested
    driver.get_log("browser")
    driver.get(Path(path).resolve().as_uri())
    WebDriverWait(driver, 20).until(lambda d: d.execute_script(
        "return document.readyState === 'complete' && document.querySelectorAll('.leaflet-pane path').length > 0"))
    time.sleep(settle)
    report = PageReport()
    report.resources = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".concat(performance.getEntriesByType('navigation').map(e => e.name))")
    report.console = driver.get_log("browser")
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            if message["params"].get("documentURL", "").startswith("chrome"):
                continue  # the browser's own start page, not ours
            report.requests.append(message["params"]["request"]["url"])
        elif message.get("method") == "Network.webSocketCreated":
            report.requests.append(message["params"]["url"])
    if screenshot is not None:
        driver.save_screenshot(str(screenshot))
        report.screenshot = Path(screenshot)
    return report
