"""Reads for the trainer's pages, each scoped to the asking user."""

from datetime import datetime, time

from django.http import Http404
from django.utils import timezone

from labeling.projects.models import Membership, Project

from .models import Assignment, Judgment
from .services import open_items


def get_assignment_for(user, code) -> Assignment:
    """The user's own assignment by its code, or 404: nobody sees another's work."""
    assignment = (
        Assignment.objects.select_related("item__project", "item__prompt")
        .filter(code=code, trainer=user, item__project__memberships__user=user)
        .filter(item__project__memberships__role=Membership.Role.TRAINER)
        .first()
        if user.is_authenticated
        else None
    )
    if assignment is None:
        raise Http404("No such assignment")
    return assignment


def start_of_today():
    now = timezone.localtime()
    return timezone.make_aware(datetime.combine(now.date(), time.min), now.tzinfo)


def judged_today(trainer, project: Project) -> int:
    return Judgment.objects.filter(
        assignment__trainer=trainer,
        assignment__item__project=project,
        created_at__gte=start_of_today(),
    ).count()


def waiting_for(trainer, project: Project) -> int:
    """Items the trainer could still take, plus the ones they hold."""
    held = Assignment.objects.filter(
        trainer=trainer,
        item__project=project,
        status=Assignment.Status.LEASED,
        lease_expires_at__gt=timezone.now(),
    ).count()
    return open_items(project, trainer).count() + held
