"""Browser tests: Playwright drives Debian's Chromium (/usr/bin/chromium) against pytest-django's live_server.

No pytest-playwright: the fixtures below launch Chromium through ``playwright.sync_api`` with a fresh profile.
When /usr/bin/chromium is missing the ``browser`` fixture skips every browser test and says why.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

# Playwright's sync API runs an event loop in this thread; Django's ORM calls made by the test itself
# (factories, assertions) are still synchronous and safe here.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser(live_server):  # type: ignore[no-untyped-def]
    """One Chromium with a fresh, throw-away profile for the whole session.

    It depends on ``live_server`` so that it closes first: its keep-alive connections end while the server
    (and, on SQLite, the shared in-memory connection) is still up."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"Browser tests skipped: {CHROMIUM} is missing (apt-get install -y chromium to run them).")
    from playwright.sync_api import sync_playwright

    profile_dir = tempfile.mkdtemp(prefix="refiapp-e2e-chromium-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile_dir,
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_ARGS,
                accept_downloads=True,
                viewport={"width": 1366, "height": 900},
                locale="en-US",
            )
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile_dir, ignore_errors=True)


@pytest.fixture
def page(browser, live_server, settings):  # type: ignore[no-untyped-def]
    """A new tab with no cookies, pointed at the live server (plain http: cookies may not be Secure-only)."""
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    browser.clear_cookies()
    tab = browser.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    tab.close()
