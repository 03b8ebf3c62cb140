"""Debian's headless chromium driven by selenium (chromium-driver): opens a page and says
what it rendered. Used by the report's browser test and its benchmark."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: The flags every run uses: no sandbox (root in CI), nothing fetched in the background.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-dev-shm-usage",
)
REQUIRE_ENV = "LOCALBATCH_REQUIRE_BROWSER"


def chromium_paths() -> tuple[str, str] | None:
    """(chromium, chromedriver) when both are installed."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@contextmanager
def chromium(width: int = 1250, height: int = 1800) -> Iterator[Any]:
    """A fresh headless chromium (its own profile directory), quit on exit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    paths = chromium_paths()
    if paths is None:
        raise RuntimeError("chromium and chromedriver are not installed")
    profile = tempfile.mkdtemp(prefix="localbatch-chromium-")
    options = webdriver.ChromeOptions()
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    options.binary_location = paths[0]
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(paths[1]))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def open_page(driver: Any, path: Path) -> float:
    """Load a local file; the seconds until it was rendered (load event, then a frame)."""
    started = time.perf_counter()
    driver.get(path.resolve().as_uri())
    driver.execute_async_script("const done = arguments[0]; requestAnimationFrame(() => done());")
    return time.perf_counter() - started


def console_errors(driver: Any) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
