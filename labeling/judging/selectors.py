"""Reads for the trainer's pages, each scoped to the asking user."""

from django.http import Http404
from django.utils import timezone

from labeling.projects.models import Dimension, Flag, Membership, Project

from .models import Assignment, Item, Judgment, Queue
from .services import judged_today

__all__ = ["get_assignment_for", "judged_today", "rubric", "waiting_for"]


def rubric(project: Project) -> tuple[list[Dimension], list[Flag]]:
    """`project.rubric()` (active dimensions and flags, once per request) in two plain
    queries: the labeling pages read it on every submit."""
    if not hasattr(project, "_rubric"):
        dimensions = Dimension.objects.raw(
            "SELECT * FROM projects_dimension WHERE project_id = %s AND is_active "
            "ORDER BY position, id",
            [project.pk],
        )
        flags = Flag.objects.raw(
            "SELECT * FROM projects_flag WHERE project_id = %s ORDER BY position, id",
            [project.pk],
        )
        project._rubric = (list(dimensions), list(flags))
    return project.rubric()


def get_assignment_for(user, code) -> Assignment:
    """The user's own assignment by its code, or 404: nobody sees another's work."""
    assignment = (
        Assignment.objects.select_related("item__project", "item__prompt")
        .filter(
            code=code,
            trainer=user,
            item__project__memberships__user=user,
            item__project__memberships__role=Membership.Role.TRAINER,
        )
        .first()
        if user.is_authenticated
        else None
    )
    if assignment is None:
        raise Http404("No such assignment")
    return assignment


WAITING_CAP = 1000


def waiting_for(trainer, project: Project) -> int:
    """Items the trainer could still take in open queues (counted up to WAITING_CAP), plus
    the ones they hold. Capped so the count stays cheap however large the queue."""
    queues = Queue.objects.filter(project=project, is_paused=False).filter(
        restricted=False
    ) | Queue.objects.filter(project=project, is_paused=False, trainers=trainer)
    open_items = (
        Item.objects.filter(queue__in=queues.values("pk"), open_slots__gt=0, is_gold=False)
        .exclude(assignments__trainer=trainer)
        .values("pk")[:WAITING_CAP]
        .count()
    )
    held = Assignment.objects.filter(
        trainer=trainer,
        item__project=project,
        status__in=[Assignment.Status.LEASED, Assignment.Status.RETURNED],
        lease_expires_at__gt=timezone.now(),
    ).count()
    return open_items + held


def qualification_review(trainer, project: Project) -> list[dict]:
    """The trainer's gold answers beside the expected ones, for a failed qualification."""
    membership = Membership.objects.get(project=project, user=trainer)
    if not membership.qualification_failed_at:
        return []
    rows = []
    judgments = (
        Judgment.objects.filter(
            assignment__trainer=trainer,
            assignment__item__project=project,
            gold_correct__isnull=False,
        )
        .select_related("assignment__item__prompt", "preferred")
        .order_by("created_at")
    )
    for j in judgments:
        item = j.assignment.item
        gold = item.gold_answer or {}
        expected = gold.get("preferred")
        texts = dict(item.candidates.values_list("pk", "text"))
        rows.append(
            {
                "prompt": item.prompt.last_user_text,
                "correct": j.gold_correct,
                "yours": _describe(j.preferred_id, j.strength, j.ranking, texts),
                "expected": texts.get(expected, "either response (about the same)"),
                "explanation": gold.get("explanation", ""),
            }
        )
    return rows


def _describe(preferred_id, strength, ranking, texts: dict) -> str:
    if ranking:
        return texts.get(ranking[0][0], "")
    if not strength:
        return "about the same"
    return texts.get(preferred_id, "")
