"""Untrusted Markdown renders to HTML with nothing executable left in it."""

from html.parser import HTMLParser

import pytest

from labeling.core.markup import render_markdown


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "<svg onload=alert(1)>",
        '<a href="javascript:alert(1)">x</a>',
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "![x](javascript:alert(1))",
        '<div style="background:url(javascript:alert(1))">x</div>',
        "<iframe src=//evil.example></iframe>",
        "<form action=//evil.example><button>go</button></form>",
    ],
)
def test_nothing_executable_survives(source):
    elements = parse(render_markdown(source))
    for tag, attrs in elements:
        assert tag in {"p", "a", "strong", "em", "code", "pre"}, tag
        for name, value in attrs:
            assert name in {"href", "rel", "title"}, name
            if name == "href":
                assert value.lower().startswith(("http:", "https:", "mailto:")), value


def parse(html: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """Every element the browser would build from this HTML, with its attributes."""
    found = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

    Collector().feed(html)
    return found


def test_raw_html_shows_as_text():
    assert "&lt;b&gt;bold?&lt;/b&gt;" in render_markdown("<b>bold?</b>")


def test_markdown_structure_is_kept():
    html = render_markdown(
        "# Title\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```py\nx = 1\n```"
    )
    for tag in (
        "<h1>",
        "<ul>",
        "<li>one</li>",
        "<table>",
        "<td>1</td>",
        '<code class="language-py">',
    ):
        assert tag in html


def test_safe_links_are_kept_and_marked_nofollow():
    html = render_markdown("[docs](https://example.org/a)")
    assert 'href="https://example.org/a"' in html
    assert "nofollow" in html
