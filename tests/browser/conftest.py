"""Browser tests: a real Chromium (Debian's) driven by Playwright's sync API against `live_server`.

Playwright's sync API runs an asyncio event loop in the test thread, so Django would refuse ORM calls
made from the test (SynchronousOnlyOperation); the live server itself runs in its own thread.
"""

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 10_000
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.browser_test_failed = report.failed
    return report


@pytest.fixture
def new_page(browser, live_server, request):
    """A factory of pages, each in a fresh context (its own cookies): one per person in a test.

    When the test fails, every page it opened is saved as test-artifacts/<test-name>-FAILED-<n>.png.
    """
    contexts = []

    def make() -> Page:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    if getattr(request.node, "browser_test_failed", False):
        ARTIFACTS.mkdir(exist_ok=True)
        for number, context in enumerate(contexts, 1):
            for page in context.pages:
                print(f"{request.node.name}: page {number} was at {page.url}")
                page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-FAILED-{number}.png"), full_page=True)
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page) -> Page:
    return new_page()


@pytest.fixture
def shot(request):
    """shot(page, "step") saves test-artifacts/<test-name>-<step>.png for a human to look at."""
    ARTIFACTS.mkdir(exist_ok=True)

    def save(page: Page, step: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-{step}.png"), full_page=True)

    return save
