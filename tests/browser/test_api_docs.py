"""The API docs page renders in headless Chromium within the app's Content-Security-Policy."""

import os

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_swagger_ui_renders_with_no_csp_violation(browser, live_server, tmp_path):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    messages, violations = [], []
    page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda exc: messages.append(f"pageerror: {exc}"))
    page.expose_function("reportViolation", lambda v: violations.append(v))
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => "
        "window.reportViolation(e.violatedDirective + ' ' + e.blockedURI));"
    )
    response = page.goto(f"{live_server.url}/api/v1/docs/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector(".swagger-ui .opblock-tag", timeout=20_000)
    assert page.locator(".opblock").count() >= 30
    assert "PreferLabel API" in page.locator(".swagger-ui .title").inner_text()
    page.screenshot(path=str(os.environ.get("API_DOCS_SCREENSHOT", tmp_path / "docs.png")))
    context.close()
    assert violations == []
    assert [m for m in messages if "Content Security Policy" in m or m.startswith("error")] == []
