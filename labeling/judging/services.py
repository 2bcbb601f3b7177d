"""The trainer's loop: claim the next item under a lease, submit a judgment, skip.

Every write the labeling pages make goes through these functions.
"""

import random
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from labeling.projects.models import Dimension, Project

from .models import Assignment, CandidateFlag, Item, Judgment, Score

_shuffle = random.SystemRandom().shuffle


class AssignmentClosed(Exception):
    """The assignment can no longer take a judgment (skipped, released or taken over)."""


@dataclass(frozen=True)
class JudgmentInput:
    """A validated answer, already expressed in candidate ids (never screen positions)."""

    preferred_id: int | None = None
    strength: int | None = None
    ranking: list[list[int]] | None = None
    all_bad: bool = False
    scores: dict[tuple[int, int], int] = field(default_factory=dict)  # (candidate, dimension)
    flags: set[tuple[int, str]] = field(default_factory=set)  # (candidate, flag key)
    rationale: str = ""
    time_spent_ms: int = 0


def _live_assignments(now):
    """Assignments that count toward an item's overlap: submitted, or leased and unexpired."""
    return Q(status=Assignment.Status.SUBMITTED) | Q(
        status=Assignment.Status.LEASED, lease_expires_at__gt=now
    )


def _taken_count(item_id: int, now, *, exclude_trainer=None) -> int:
    qs = Assignment.objects.filter(_live_assignments(now), item_id=item_id)
    if exclude_trainer is not None:
        qs = qs.exclude(trainer=exclude_trainer)
    return qs.count()


def open_items(project: Project, trainer, now=None):
    """Items this trainer could be handed now: capacity left and never seen by them."""
    now = now or timezone.now()
    taken = (
        Assignment.objects.filter(_live_assignments(now), item=OuterRef("pk"))
        .order_by()
        .values("item")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        Item.objects.filter(project=project)
        .exclude(assignments__trainer=trainer)
        .annotate(taken=Coalesce(Subquery(taken), 0))
        .filter(taken__lt=project.overlap)
    )


def _new_lease_end(project: Project, now):
    return now + timedelta(minutes=project.lease_minutes)


@transaction.atomic
def claim_next(*, trainer, project: Project) -> Assignment | None:
    """Hand the trainer their open lease, else the best next item under a new lease.

    Items are locked with SKIP LOCKED so concurrent trainers never wait on each other; the
    capacity is counted again after the lock, in a fresh statement, because the first
    count may predate another trainer's commit.
    """
    now = timezone.now()
    own = (
        Assignment.objects.select_for_update()
        .filter(trainer=trainer, item__project=project, status=Assignment.Status.LEASED)
        .order_by("created_at")
    )
    for assignment in own:
        if assignment.lease_expires_at > now:
            return assignment
        if _taken_count(assignment.item_id, now, exclude_trainer=trainer) < project.overlap:
            assignment.lease_expires_at = _new_lease_end(project, now)
            assignment.save(update_fields=["lease_expires_at", "updated_at"])
            return assignment
        assignment.status = Assignment.Status.EXPIRED
        assignment.save(update_fields=["status", "updated_at"])

    for _attempt in range(20):
        item = (
            open_items(project, trainer, now)
            .order_by("-priority", "id")
            .select_for_update(skip_locked=True, of=("self",))
            .first()
        )
        if item is None:
            return None
        if _taken_count(item.pk, now) >= project.overlap:
            continue
        order = list(item.slots.values_list("candidate_id", flat=True))
        _shuffle(order)
        return Assignment.objects.create(
            item=item,
            trainer=trainer,
            lease_expires_at=_new_lease_end(project, now),
            display_order=order,
        )
    return None


@transaction.atomic
def submit_judgment(*, trainer, assignment: Assignment, answer: JudgmentInput) -> Judgment:
    """Store the trainer's judgment once: a repeated submit returns the stored one."""
    assignment = (
        Assignment.objects.select_for_update()
        .select_related("item__project")
        .get(pk=assignment.pk, trainer=trainer)
    )
    if assignment.status == Assignment.Status.SUBMITTED:
        return assignment.judgment
    if assignment.status != Assignment.Status.LEASED:
        raise AssignmentClosed(f"This item was {assignment.get_status_display().lower()}.")
    project = assignment.item.project
    now = timezone.now()
    if (
        assignment.lease_expires_at <= now
        and _taken_count(assignment.item_id, now, exclude_trainer=trainer) >= project.overlap
    ):
        raise AssignmentClosed("Your lease on this item expired and another trainer took it.")

    judgment = Judgment.objects.create(
        assignment=assignment,
        preferred_id=answer.preferred_id,
        strength=answer.strength,
        ranking=answer.ranking,
        all_bad=answer.all_bad,
        rationale=answer.rationale,
        time_spent_ms=answer.time_spent_ms,
        shown_order=assignment.display_order,
        guideline_version=project.guidelines_version,
    )
    Score.objects.bulk_create(
        Score(judgment=judgment, candidate_id=c, dimension_id=d, value=v)
        for (c, d), v in sorted(answer.scores.items())
    )
    CandidateFlag.objects.bulk_create(
        CandidateFlag(judgment=judgment, candidate_id=c, key=k) for c, k in sorted(answer.flags)
    )
    assignment.status = Assignment.Status.SUBMITTED
    assignment.finished_at = now
    assignment.save(update_fields=["status", "finished_at", "updated_at"])
    return judgment


@transaction.atomic
def skip_assignment(*, trainer, assignment: Assignment, reason: str) -> Assignment:
    """Give the item back with a reason; the trainer will not be offered it again."""
    assignment = Assignment.objects.select_for_update().get(pk=assignment.pk, trainer=trainer)
    if assignment.status == Assignment.Status.SKIPPED:
        return assignment
    if assignment.status != Assignment.Status.LEASED:
        raise AssignmentClosed(f"This item was {assignment.get_status_display().lower()}.")
    assignment.status = Assignment.Status.SKIPPED
    assignment.skip_reason = reason[:300]
    assignment.finished_at = timezone.now()
    assignment.save(update_fields=["status", "skip_reason", "finished_at", "updated_at"])
    return assignment


def dimensions_of(project: Project) -> list[Dimension]:
    return list(project.active_dimensions())
