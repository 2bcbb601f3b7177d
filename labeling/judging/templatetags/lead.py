"""Number formats for the lead's pages."""

from django import template

register = template.Library()
DASH = "–"


@register.filter
def percent(value: float | None) -> str:
    return DASH if value is None else f"{value:.0%}"


@register.filter
def seconds(value: float | None) -> str:
    return DASH if value is None else f"{value:.1f}"


@register.filter
def eta(hours: float | None) -> str:
    """'done', '–' (no recent pace), '40 min', '3.5 h', '2.1 days'."""
    if hours is None:
        return DASH
    if hours == 0:
        return "done"
    if hours < 1:
        return f"{max(round(hours * 60), 1)} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"


@register.filter
def ms_seconds(value: int | None) -> str:
    """Milliseconds as '74 s' or '2 min 5 s'."""
    if value is None:
        return DASH
    total = round(value / 1000)
    if total < 120:
        return f"{total} s"
    return f"{total // 60} min {total % 60} s"
