from django import template
from django.utils.safestring import SafeString, mark_safe

from labeling.core.markup import render_markdown

register = template.Library()


@register.filter
def markdown(text: str) -> SafeString:
    """Untrusted Markdown as sanitized HTML (see labeling.core.markup)."""
    return mark_safe(render_markdown(text))  # noqa: S308 - sanitized by nh3 just above
