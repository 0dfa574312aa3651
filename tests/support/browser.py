"""A real Chromium for the inbox's browser tests: Debian's own, driven by Playwright.

No browser build is ever downloaded: Playwright's async API (in the test's own
event loop, beside the running bridge) is pointed at the system's chromium,
which `.ci/install-browser` installs from apt for `make test` and `.ci/run`.
Each launch gets a fresh profile (Playwright makes a new temporary
user-data-dir per launch), and each ``session`` is its own browser context:
its own cookies, so two sessions are two people.

Where the browser cannot be found or started the test skips, with the reason
said loudly (a warning in the summary too); with TEXTBACK_REQUIRE_BROWSER set
(CI installs the browser first) that is a failure instead, so a broken
install can never pass as skipped tests.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.support.paths import ROOT

# What works headless on this machine and in CI (no GPU, no sandbox as root,
# and nothing that phones home: only loopback is ever a target here).
FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
WAIT_MS = 10_000  # every wait for the page is a condition with this limit, never a sleep
SCREENSHOTS_ENV = "TEXTBACK_SCREENSHOTS"
REQUIRE_ENV = "TEXTBACK_REQUIRE_BROWSER"


def executable() -> Path | None:
    """The system Chromium: $TEXTBACK_CHROMIUM, else chromium on the PATH."""
    named = os.environ.get("TEXTBACK_CHROMIUM") or shutil.which("chromium")
    return Path(named) if named else None


def screenshots_dir() -> Path:
    """Where screenshots are kept as the run's artifacts: $TEXTBACK_SCREENSHOTS,
    else build/screenshots in the repository (git ignores build/)."""
    folder = Path(os.environ.get(SCREENSHOTS_ENV) or ROOT / "build" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def unavailable(reason: str) -> NoReturn:
    """Skip, loudly - or fail, where the browser is required (CI)."""
    message = f"NO BROWSER, browser tests not run: {reason}"
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{message} ({REQUIRE_ENV} is set: the browser must be there)")
    warnings.warn(message, stacklevel=2)
    pytest.skip(message)


@dataclass
class Session:
    """One person's browser: a page in its own context (own cookies), with what
    went wrong on it - uncaught script errors, console errors (a CSP refusal
    is one) and dialogs opened - so a test can assert that nothing ran."""

    page: Any  # playwright.async_api.Page (Playwright ships no stubs mypy reads here)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def console(self, kind: str, text: str, where: dict[str, Any]) -> None:
        url = str(where.get("url", ""))
        if kind == "error" and not url.endswith("/favicon.ico"):  # the browser's own ask
            self.errors.append(f"console: {text} ({url})" if url else f"console: {text}")

    async def screenshot(self, name: str) -> Path:
        """The whole page as build/screenshots/NAME.png (or $TEXTBACK_SCREENSHOTS)."""
        if not re.fullmatch(r"[a-z0-9_-]+", name):
            raise ValueError(f"screenshot name {name!r}: lower-case letters, digits, - and _")
        path = screenshots_dir() / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path


@dataclass
class Chromium:
    """The launched browser; ``session`` opens a new person's window."""

    browser: Any  # playwright.async_api.Browser
    sessions: list[Session] = field(default_factory=list)

    async def session(self, *, viewport: dict[str, int] = DESKTOP) -> Session:
        context = await self.browser.new_context(viewport=viewport, locale="en-US")
        context.set_default_timeout(WAIT_MS)
        page = await context.new_page()
        session = Session(page)
        page.on("pageerror", lambda error: session.errors.append(f"pageerror: {error}"))
        page.on("console", lambda msg: session.console(msg.type, msg.text, msg.location))

        async def dismiss(dialog: Any) -> None:
            session.dialogs.append(f"{dialog.type}: {dialog.message}")
            await dialog.dismiss()

        page.on("dialog", dismiss)
        self.sessions.append(session)
        return session


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that takes the browser is a `browser` test, and `slow` (Chromium
    starts in a second or so): `pytest -m browser` runs them, `-m "not slow"` not."""
    for item in items:
        if "chromium" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)


@pytest.fixture
async def chromium() -> AsyncIterator[Chromium]:
    """The browser for one test (tests/conftest.py loads this module as a plugin)."""
    async with launched() as browser:
        yield browser


@contextlib.asynccontextmanager
async def launched() -> AsyncIterator[Chromium]:
    """The system Chromium, headless, closed after the block; skips (or, in CI,
    fails) with the reason when it cannot be had."""
    try:
        from playwright.async_api import Error as PlaywrightError
        from playwright.async_api import async_playwright
    except ImportError as error:  # pragma: no cover - the dev extra installs it
        unavailable(f"Playwright is not installed ({error}); pip install -e '.[dev]'")
    path = executable()
    if path is None or not path.exists():
        where = path or "$TEXTBACK_CHROMIUM or the PATH"
        unavailable(f"no chromium at {where}; .ci/install-browser installs Debian's (as root)")
    async with async_playwright() as playwright:
        try:
            browser = await playwright.chromium.launch(
                executable_path=str(path), headless=True, args=list(FLAGS)
            )
        except PlaywrightError as error:
            unavailable(f"{path} did not start: {str(error).splitlines()[0]}")
        try:
            yield Chromium(browser)
        finally:
            await browser.close()
