"""Make realistic judgments through the trainer's own services, and run exports directly."""

import json
from collections.abc import Callable
from pathlib import Path

from labeling.datasets.models import Export
from labeling.datasets.services import options_for, run_export, start_export
from labeling.judging.models import Item, Judgment
from labeling.judging.services import JudgmentInput, claim_next, submit_judgment
from labeling.projects.models import Membership, Project
from labeling.projects.services import add_member
from tests.factories import make_user


def add_trainers(project: Project, *names: str) -> list:
    users = [make_user(name) for name in names]
    for user in users:
        add_member(project=project, user=user, role=Membership.Role.TRAINER)
    return users


def answer(
    project: Project,
    *,
    winner: int | None = None,
    strength: int = 2,
    ranking: list[list[int]] | None = None,
    scores: dict[int, dict[str, int]] | None = None,
    flags: dict[int, list[str]] | None = None,
    all_bad: bool = False,
    rationale: str = "",
) -> JudgmentInput:
    """A trainer's answer in candidate ids; scores as {candidate: {dimension key: value}}."""
    dims = {d.key: d.pk for d in project.dimensions.all()}
    if ranking is None:
        preferred, strength = (winner, strength) if winner is not None else (None, 0)
    else:
        preferred = strength = None
    return JudgmentInput(
        preferred_id=preferred,
        strength=strength,
        ranking=ranking,
        all_bad=all_bad,
        scores={(c, dims[k]): v for c, by in (scores or {}).items() for k, v in by.items()},
        flags={(c, k) for c, keys in (flags or {}).items() for k in keys},
        rationale=rationale,
        time_spent_ms=4200,
    )


def judge(
    project: Project,
    trainer,
    answer_for: Callable[[Item], JudgmentInput],
    *,
    shown: Callable[[list[int]], list[int]] | None = None,
) -> Judgment:
    """Claim the trainer's next item, optionally fix the order shown, submit an answer."""
    assignment = claim_next(trainer=trainer, project=project)
    assert assignment is not None, f"{trainer} has no work"
    if shown is not None:
        assignment.display_order = shown(list(assignment.display_order))
        assignment.save(update_fields=["display_order"])
    return submit_judgment(
        trainer=trainer, assignment=assignment, answer=answer_for(assignment.item)
    )


def export_now(project: Project, user=None, **data) -> Export:
    """Create an export and run its job in this process; return it done."""
    options = options_for(project=project, data=data)
    export = start_export(project=project, user=user, options=options, enqueue=False)
    outcome = run_export(export_id=export.pk)
    export.refresh_from_db()
    assert outcome == "done", (outcome, export.error)
    return export


def folder_of(exports_dir: Path, export: Export) -> Path:
    return exports_dir / export.folder


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]
