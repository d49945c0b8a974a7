"""The production-mode browser run (``scripts/ci_production``): Playwright in /usr/bin/chromium against gunicorn
with DEBUG off, the manifest static files and two django-q2 clusters on Redis, started by that script.

It is not part of the normal suite (tests/conftest.py leaves this folder out unless PRODUCTION_BASE_URL is set).
The tests talk to the server over HTTP only; facts about the database come from ``manage.py shell`` run with the
same environment as the server (DATABASE_URL, SECRET_KEY, ...), never from this process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[2]
DEMO_PASSWORD = "refiapp-demo-2025"


@pytest.fixture(scope="session")
def base_url() -> str:
    return os.environ["PRODUCTION_BASE_URL"].rstrip("/")


def manage_json(code: str) -> dict:
    """Run Python in ``manage.py shell`` with the server's environment; the code prints one JSON object."""
    completed = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def chromium():  # type: ignore[no-untyped-def]
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"{CHROMIUM} is missing: the production run needs it (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class WatchedPage:
    """A tab that records every console error and page error, and checks every static file a page references."""

    def __init__(self, context, base_url: str) -> None:  # type: ignore[no-untyped-def]
        self.base_url = base_url
        self.page = context.new_page()
        self.page.set_default_timeout(20_000)
        self.console_errors: list[str] = []
        self.page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.console_errors.append(f"page error: {exc}"))

    def goto(self, path: str):  # type: ignore[no-untyped-def]
        response = self.page.goto(self.base_url + path)
        self.check()
        return response

    def check(self) -> set[str]:
        """Every same-origin static file the page references answers 200, and the console stayed clean."""
        self.page.wait_for_load_state("load")
        urls = set(
            self.page.eval_on_selector_all(
                "script[src], link[href], img[src]",
                "els => els.map(e => e.src || e.href)",
            )
        )
        static = {u for u in urls if u.startswith(self.base_url + "/static/")}
        assert static, f"{self.page.url} references no static file"
        for url in sorted(static):
            status = self.page.request.get(url).status
            assert status == 200, f"{url} (on {self.page.url}) answered {status}"
        assert self.console_errors == [], f"console errors on {self.page.url}: {self.console_errors}"
        return static


@pytest.fixture
def new_tab(chromium, base_url):  # type: ignore[no-untyped-def]
    """A tab in a fresh browser context (no cookies: signed out)."""
    contexts = []

    def make() -> WatchedPage:
        context = chromium.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")
        contexts.append(context)
        return WatchedPage(context, base_url)

    yield make
    for context in contexts:
        context.close()
