"""Untrusted text to safe HTML: Markdown rendered by markdown-it-py, then sanitized by nh3.

Raw HTML in the source is never passed through (markdown-it escapes it, so it shows as
text), and nh3 keeps only a fixed set of tags and attributes and http(s)/mailto links, so no
script, event handler, style or `javascript:` URL can reach the page.
"""

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True}).enable(
    ["table", "strikethrough"]
)

ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "del", "code", "pre", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td", "a",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
    "code": {"class"},
}
_cleaner = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=ALLOWED_ATTRIBUTES,
    url_schemes={"http", "https", "mailto"},
    link_rel="noopener noreferrer nofollow",
    strip_comments=True,
)


@lru_cache(maxsize=4096)
def render_markdown(text: str) -> str:
    """Render untrusted Markdown to sanitized HTML."""
    return _cleaner.clean(_md.render(text or ""))
