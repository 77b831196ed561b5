"""Shared browser-test fixtures for the form, review, dashboard and screenshot tests.

The same pattern as tests/test_web_browser.py (Debian Chromium through Playwright, never `playwright install`;
uvicorn in a thread serving the ASGI app on the test database), with a context factory so a test can open
several pages (languages, offline) and a sign-in helper. Import the fixtures into a test module by name.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail

CHROMIUM = os.environ.get("SITAWARE_CHROMIUM", "/usr/bin/chromium")
# Keep Chromium off the network (FIELD-NOTES); SwiftShader gives headless WebGL for MapLibre.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
]
PASSWORD = "correct horse battery staple"


AXE = Path(__file__).resolve().parents[1] / "src/sitaware/web/static/web/vendor/axe-core/axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


@pytest.fixture(name="browser")
def browser_fixture(monkeypatch):
    """A launched Chromium; `browser.contexts_made` remembers contexts so each is closed at the end."""
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        skip_or_fail(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed (pip install playwright; never `playwright install`)")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def new_page(browser, locale: str = "en-GB", viewport: dict | None = None):
    """A page in a fresh context that refuses (and remembers) any request that would leave the machine."""
    context = browser.new_context(locale=locale, viewport=viewport or {"width": 1280, "height": 900})
    outside: list[str] = []

    def guard(route):
        if not route.request.url.startswith("http://127.0.0.1:"):
            outside.append(route.request.url)
            return route.abort()
        return route.continue_()

    context.route("**/*", guard)
    page = context.new_page()
    page.outside_requests = outside
    return page


def sign_in(page, server: str, username: str, next_path: str) -> None:
    page.goto(f"{server}/accounts/login/?next={next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(f"{server}{next_path}")


@pytest.fixture(name="live_server_url")
def live_server_fixture(transactional_db, settings, release_server_connections):
    """uvicorn serving the project's ASGI app on a free port, in a thread of this process (same test database)."""
    import uvicorn
    from django.core.handlers.asgi import ASGIHandler

    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(ASGIHandler(), host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def serious_axe_violations(page) -> list[str]:
    """axe-core's WCAG 2 A/AA rules; only critical and serious violations count (the issue's bar)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}})")
    return [f"{v['id']} ({v['impact']}): {v['help']} {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"] if v["impact"] in ("critical", "serious")]


def screenshots_dir() -> Path:
    path = Path(os.environ.get("SITAWARE_SCREENSHOTS_DIR", SCREENSHOTS))
    path.mkdir(parents=True, exist_ok=True)
    return path
