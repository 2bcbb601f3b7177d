"""Reads for the trainer's pages, each scoped to the asking user."""

from functools import cache

from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404
from django.utils import timezone

from labeling.core.db import model_from_row, pipelined, select_columns
from labeling.projects.models import Candidate, Dimension, Flag, Membership, Project, Prompt

from .models import Assignment, Item, Judgment, Queue
from .services import judged_today, judged_today_sql

__all__ = ["get_assignment_for", "judged_today", "rubric", "waiting_for"]


_RUBRICS: dict[tuple[int, int], tuple[list, list]] = {}


def rubric(project: Project) -> tuple[list[Dimension], list[Flag]]:
    """`project.rubric()` (active dimensions and flags), kept in memory per project and
    rubric version: every submit and labeling page needs it, and it changes only through
    `projects.services.set_dimensions`/`set_flags`, which bump the version. The instances
    are shared between requests and threads: read them, never change them."""
    if not hasattr(project, "_rubric"):
        key = (project.pk, project.rubric_version)
        cached = _RUBRICS.get(key)
        if cached is None:
            cached = _read_rubric(project.pk)
            if len(_RUBRICS) >= 1024:  # many projects in one process: start again
                _RUBRICS.clear()
            _RUBRICS[key] = cached
        project._rubric = cached
    return project.rubric()


def _read_rubric(project_id: int) -> tuple[list[Dimension], list[Flag]]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {select_columns(Dimension, 'd')} FROM projects_dimension d "
            "WHERE d.project_id = %s AND d.is_active ORDER BY d.position, d.id",
            [project_id],
        )
        dimensions = [model_from_row(Dimension, "d", row, 0) for row in cursor.fetchall()]
        cursor.execute(
            f"SELECT {select_columns(Flag, 'f')} FROM projects_flag f "
            "WHERE f.project_id = %s ORDER BY f.position, f.id",
            [project_id],
        )
        flags = [model_from_row(Flag, "f", row, 0) for row in cursor.fetchall()]
    return dimensions, flags


# The assignment with its item, project and prompt, in one plain statement: the submit reads
# it first on every judgment, and compiling the equivalent ORM join cost more than running it.
_JOINED = (("a", Assignment), ("i", Item), ("pj", Project), ("pr", Prompt))
_ASSIGNMENT_SQL = (
    "SELECT {columns} FROM judging_assignment a "
    "JOIN judging_item i ON i.id = a.item_id "
    "JOIN projects_project pj ON pj.id = i.project_id "
    "JOIN projects_prompt pr ON pr.id = i.prompt_id "
    "WHERE a.code = %s AND a.trainer_id = %s AND EXISTS (SELECT 1 FROM projects_membership m "
    "WHERE m.project_id = i.project_id AND m.user_id = %s AND m.role = %s)"
)


@cache
def _assignment_sql(vendor: str) -> str:
    return _ASSIGNMENT_SQL.format(columns=", ".join(select_columns(m, a) for a, m in _JOINED))


def get_assignment_for(user, code) -> Assignment:
    """The user's own assignment by its code, or 404: nobody sees another's work."""
    if not user.is_authenticated:
        raise Http404("No such assignment")
    try:
        code = Assignment._meta.get_field("code").get_db_prep_value(code, connection)
    except (ValidationError, ValueError) as exc:
        raise Http404("No such assignment") from exc
    with connection.cursor() as cursor:
        cursor.execute(
            _assignment_sql(connection.vendor),
            [code, user.pk, user.pk, Membership.Role.TRAINER.value],
        )
        row = cursor.fetchone()
    if row is None:
        raise Http404("No such assignment")
    instances, at = [], 0
    for alias, model in _JOINED:
        instances.append(model_from_row(model, alias, row, at))
        at += len(model._meta.concrete_fields)
    assignment, item, project, prompt = instances
    Assignment.item.field.set_cached_value(assignment, item)
    Item.project.field.set_cached_value(item, project)
    Item.prompt.field.set_cached_value(item, prompt)
    return assignment


_CANDIDATES_SQL = (
    "SELECT {columns}, p.messages AS prompt_messages FROM projects_candidate c "
    "JOIN projects_prompt p ON p.id = c.prompt_id WHERE c.id IN ({marks})"
)


def screen_reads(trainer, project: Project, candidate_ids: list[int]):
    """What the labeling screen reads besides the assignment, in one round trip: the shown
    responses by id (each with `prompt_messages`, its prompt's messages as JSON text) and
    the trainer's count for today."""
    marks = ", ".join(["%s"] * len(candidate_ids))
    sql = _CANDIDATES_SQL.format(columns=select_columns(Candidate, "c"), marks=marks)
    with connection.cursor() as responses, connection.cursor() as today:
        with pipelined():  # the replies are read after it, from the still open cursors
            responses.execute(sql, list(candidate_ids))
            today.execute(*judged_today_sql(trainer, project, timezone.now()))
        candidates = {}
        for row in responses.fetchall():
            candidate = model_from_row(Candidate, "c", row, 0)
            candidate.prompt_messages = row[-1]
            candidates[candidate.pk] = candidate
        return candidates, today.fetchone()[0]


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
