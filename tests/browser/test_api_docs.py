"""The OpenAPI documentation page renders under the site's strict Content-Security-Policy."""

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import BROWSER_DB

pytestmark = [pytest.mark.browser, BROWSER_DB]


def test_api_docs_render_without_csp_violations(page, shot):
    console = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    # Record violations from the page itself too: Chromium reports some only as this event.
    page.add_init_script(
        "window.__csp = []; document.addEventListener('securitypolicyviolation',"
        " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
    )

    page.goto("/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("MedFit API")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    shot(page, "swagger")

    assert page.evaluate("window.__csp") == []
    assert [line for line in console if "Content Security Policy" in line or line.startswith("error")] == []
