"""The Jinja2 environment for the few templates on the labeling hot path.

Django's template engine renders every page; the labeling workspace (`templates/jinja2/
judging/workspace.html`), drawn on every submit, is a Jinja2 template because it renders
the same markup in half the time (0.27 ms against 0.56 ms for Django's engine, measured on
the benchmark's pairwise item). Autoescaping is on, as in Django's engine:
values are escaped unless they are already safe HTML (Django's `mark_safe` values carry
`__html__`, which Jinja2 honours).
"""

from django.templatetags.static import static
from jinja2 import Environment
from markupsafe import Markup

from labeling.core.links import fast_reverse
from labeling.core.markup import render_markdown


def markdown(text: str) -> Markup:
    """Untrusted Markdown as sanitized HTML (see labeling.core.markup)."""
    return Markup(render_markdown(text))  # noqa: S704 - sanitized by nh3


def url(name: str, *args) -> str:
    return fast_reverse(name, *args)


def environment(**options) -> Environment:
    env = Environment(**options)
    env.globals.update(url=url, static=static)
    env.filters["markdown"] = markdown
    return env
