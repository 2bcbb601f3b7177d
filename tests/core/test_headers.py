from django.urls import reverse


def test_pages_forbid_inline_script_and_framing(client, db):
    response = client.get(reverse("login"))
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_templates_carry_no_inline_script(client, db):
    html = client.get(reverse("login")).content.decode()
    assert "<script>" not in html
    assert ' style="' not in html
