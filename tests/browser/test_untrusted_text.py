"""Model output is untrusted: nothing in a response may execute in the trainer's browser."""

import pytest

from tests.factories import make_item

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOSTILE = (
    "Here you go <script>window.__pwned = 'script'</script>\n\n"
    "<img src=x onerror=\"window.__pwned = 'img'\">\n\n"
    "[click me](javascript:window.__pwned='md-link')\n\n"
    "<a href=\"javascript:window.__pwned='html-link'\">raw link</a>\n\n"
    '<div style="position:fixed;inset:0" onmouseover="window.__pwned=\'hover\'">cover</div>'
)


def test_hostile_markup_in_a_response_executes_nothing_and_shows_as_text(
    page, login, live_server, project, trainer
):
    make_item(
        project, prompt="<script>window.__pwned='prompt'</script> hi", responses=(HOSTILE, "fine")
    )
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(trainer)
    page.locator("button:has-text('Start labeling')").click()
    page.wait_for_selector("#judgment-form")

    body = page.locator("[data-testid=response-body]", has_text="Here you go")
    text = body.inner_text()
    assert "<script>window.__pwned = 'script'</script>" in text
    assert "onerror" in text and "<a href=" in text
    assert body.locator("script, img, [onerror], [onmouseover], [style]").count() == 0
    assert body.locator("a[href^='javascript']").count() == 0
    assert page.locator(".conversation script").count() == 0

    body.hover()
    for link in body.locator("a").all():
        link.click()
    page.mouse.move(5, 5)
    assert page.evaluate("window.__pwned") is None
    assert dialogs == []

    csp = page.request.get(page.url).headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
