"""Browser tests: Playwright for Python driving Debian's Chromium against the real app.

They need `playwright` (the test extra) and `/usr/bin/chromium` (`apt-get install chromium`;
Playwright's own browser download does not work here). Without them the tests are skipped with
the reason, except under `CI=true`, where `.ci/run` installs Chromium and a missing one fails.
Screenshots of every page go to `tests/e2e/screenshots/` (git-ignored).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import API_KEY, AUTH
from tests.servers import in_ci
from tests.support import ServerThread

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"

pytestmark = pytest.mark.browser


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (apt-get install -y chromium)"
    return None


@pytest.fixture(scope="module")  # not longer: Playwright's sync API holds an event loop open,
def browser() -> Iterator[Any]:  # which the async tests of later modules must not find
    missing = _missing()
    if missing:
        if in_ci():
            pytest.fail(f"browser tests cannot run: {missing} (CI=true: .ci/run installs it)")
        pytest.skip(f"browser tests skipped: {missing}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """Open a page in a fresh browser context; JavaScript errors fail the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_page(**context_args: Any) -> Any:
        options = {"viewport": {"width": 1280, "height": 900}, "locale": "en-US", **context_args}
        context = browser.new_context(**options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: (
                errors.append(msg.text) if msg.type == "error" and _counts(msg.text) else None
            ),
        )
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not errors, f"errors in the page: {errors}"


def _counts(text: str) -> bool:
    """Console errors that mean a bug (not the expected failed requests of a failure test)."""
    return "Failed to load resource" not in text and "net::ERR_INTERNET_DISCONNECTED" not in text


@pytest.fixture
def page(new_page: Callable[..., Any]) -> Any:
    return new_page()


@pytest.fixture
def site(start_app: Callable[..., ServerThread], emulator: Any) -> ServerThread:
    return start_app()


def sign_in(page: Any, server: ServerThread, key: str = API_KEY, path: str = "/") -> None:
    page.goto(server.url + path)
    page.wait_for_url("**/signin**")
    page.fill("#key", key)
    page.press("#key", "Enter")
    page.wait_for_url(server.url + path)


def shot(page: Any, name: str, *, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def make(
    server: ServerThread, prompt: str, *, headers: dict[str, str] = AUTH, **fields: Any
) -> Any:
    """Generate through the native API (DreamShaper, URLs); the images of the answer."""
    body = {"prompt": prompt, "model": "DS-8-CF", "response_format": "url", **fields}
    with server.client(headers=headers) as c:
        r = c.post("/api/v1/images", json=body)
    assert r.status_code == 200, r.text
    return r.json()["images"]
