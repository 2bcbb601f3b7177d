"""Reads for the trainer's pages, each scoped to the asking user."""

from functools import cache

from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404
from django.utils import timezone

from labeling.projects.models import Dimension, Flag, Membership, Project, Prompt

from .models import Assignment, Item, Judgment, Queue
from .services import judged_today

__all__ = ["get_assignment_for", "judged_today", "rubric", "waiting_for"]


@cache
def _columns(model, alias: str, vendor: str) -> tuple[str, list[str], list]:
    """A model's concrete columns under a table alias, with each field's value converters
    (what the ORM applies to a fetched row), built once per process and database vendor."""
    names, attnames, converters = [], [], []
    for f in model._meta.concrete_fields:
        names.append(f"{alias}.{connection.ops.quote_name(f.column)}")
        col = f.get_col(model._meta.db_table)
        attnames.append(f.attname)
        converters.append(
            (col, connection.ops.get_db_converters(col) + col.get_db_converters(connection))
        )
    return ", ".join(names), attnames, converters


def _instance(model, alias: str, row, at: int):
    """The model instance whose columns (as `_columns` lists them) start at row[at]."""
    _, attnames, converters = _columns(model, alias, connection.vendor)
    values = []
    for i, (col, funcs) in enumerate(converters, start=at):
        value = row[i]
        for func in funcs:
            value = func(value, col, connection)
        values.append(value)
    return model.from_db(connection.alias, attnames, values)


def _select(model, alias: str) -> str:
    return _columns(model, alias, connection.vendor)[0]


def rubric(project: Project) -> tuple[list[Dimension], list[Flag]]:
    """`project.rubric()` (active dimensions and flags, once per request) in two plain
    queries: the labeling pages read it on every submit."""
    if not hasattr(project, "_rubric"):
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {_select(Dimension, 'd')} FROM projects_dimension d "
                "WHERE d.project_id = %s AND d.is_active ORDER BY d.position, d.id",
                [project.pk],
            )
            dimensions = [_instance(Dimension, "d", row, 0) for row in cursor.fetchall()]
            cursor.execute(
                f"SELECT {_select(Flag, 'f')} FROM projects_flag f "
                "WHERE f.project_id = %s ORDER BY f.position, f.id",
                [project.pk],
            )
            flags = [_instance(Flag, "f", row, 0) for row in cursor.fetchall()]
        project._rubric = (dimensions, flags)
    return project.rubric()


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
    return _ASSIGNMENT_SQL.format(columns=", ".join(_select(m, a) for a, m in _JOINED))


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
        instances.append(_instance(model, alias, row, at))
        at += len(model._meta.concrete_fields)
    assignment, item, project, prompt = instances
    Assignment.item.field.set_cached_value(assignment, item)
    Item.project.field.set_cached_value(item, project)
    Item.prompt.field.set_cached_value(item, prompt)
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
