"""Headless Chromium (Debian's package) driven by Playwright against a live test server."""

import os
import shutil

import pytest

from tests.factories import PASSWORD

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# between browser steps are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `make browser-deps`.")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


def new_page(browser):
    """A page in a browser context of its own (its own cookies); close `page.context`."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.console_errors = []
    page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
    return page


def log_in(page, url: str, user) -> None:
    page.goto(f"{url}/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{url}/")


@pytest.fixture
def page(browser, live_server):
    page = new_page(browser)
    yield page
    page.context.close()


@pytest.fixture
def login(page, live_server):
    def do_login(user):
        log_in(page, live_server.url, user)
        return page

    return do_login


def login_as(browser, url: str, user):
    """Another person's browser, logged in, for tests with several people at once."""
    page = new_page(browser)
    log_in(page, url, user)
    return page
