"""Record sensitive actions (reveals, quarantines, exports, deletions, role changes)."""

from .models import AuditEvent


def record(*, action: str, actor=None, project=None, obj=None, **details) -> AuditEvent:
    """Append one event to the audit log; details must be JSON and hold no deleted text."""
    return AuditEvent.objects.create(
        action=action,
        actor=actor if actor is not None and actor.is_authenticated else None,
        project=project,
        object_type=type(obj).__name__.lower() if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        details=details,
    )
