"""Headless Chromium (Debian's ``chromium`` package) driven by Playwright's Python API.

Never a downloaded browser: Playwright launches the system binary. Without one the browser tests
skip with the reason, except under ``CI=true``, where they fail (``.ci/run`` installs it).
Every page may only reach 127.0.0.1: other requests are aborted and recorded, so a test can
assert that the console works offline.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Route, sync_playwright

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LAPTOP = {"width": 1366, "height": 900}
TABLET = {"width": 820, "height": 1180}
DOCS = Path(__file__).resolve().parents[2] / "docs" / "console"
SCREENSHOTS_ENV = "STEVE_UPDATE_SCREENSHOTS"


def screenshot_dir(tmp_path: Path) -> Path:
    """Where the browser tests save their screenshots: docs/console/ with
    ``STEVE_UPDATE_SCREENSHOTS=1`` (so that a test run does not rewrite tracked files),
    else the test's temporary directory."""
    folder = DOCS if os.environ.get(SCREENSHOTS_ENV) == "1" else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def chromium_path() -> str | None:
    for candidate in (
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """A running headless Chromium (a Playwright ``Browser``)."""
    binary = chromium_path()
    if binary is None:
        reason = "no chromium binary (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}: CI must install it (.ci/run does)")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=binary, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


class OfflineGuard:
    """Aborts every request of a browser context that is not for 127.0.0.1."""

    def __init__(self) -> None:
        self.refused: list[str] = []

    def __call__(self, route: Route) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            self.refused.append(route.request.url)
            route.abort()


def offline_context(
    browser: Browser, viewport: dict[str, int]
) -> tuple[BrowserContext, OfflineGuard]:
    """A fresh context (no cookies) whose pages reach only 127.0.0.1."""
    context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    guard = OfflineGuard()
    context.route("**/*", guard)
    return context, guard
