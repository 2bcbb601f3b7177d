"""The export's read path: two server-side cursors merged into items, in any batch size."""

import gc
import random

import pytest

from labeling.datasets.build import build_dataset
from labeling.datasets.options import ExportOptions
from labeling.datasets.source import C_ID, C_MODEL, C_TEXT, J_ID, open_scope
from labeling.judging.models import Item, Judgment
from labeling.judging.services import create_items, default_queue, set_queue_overlap
from labeling.projects.models import Prompt
from tests.factories import make_item

from .helpers import add_trainers, answer, export_now, judge

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def mixed(project, trainer, other_trainer):
    """Seven items on six prompts (one prompt has two items over the same responses), each
    judged by one to three trainers with seeded random answers, one prompt opted out."""
    set_queue_overlap(queue=default_queue(project), overlap=3)
    trainers = [trainer, other_trainer, *add_trainers(project, "third_trainer")]
    items = [
        make_item(
            project,
            prompt=f'Question {n}: "quoted"\n\ttabbed?',
            responses=(f"Answer {n} a \\ é", f"Answer {n} b 🙂"),
        )  # fmt: skip
        for n in range(6)
    ]
    first = items[0]
    candidates = list(first.slots.order_by("slot").values_list("candidate_id", flat=True))
    items += create_items(project=project, groups=[(first.prompt_id, candidates[::-1])])
    rng = random.Random(7)
    dims = ("helpfulness", "truthfulness", "harmlessness")

    def answer_for(item):
        a, b = item.slots.order_by("slot").values_list("candidate_id", flat=True)
        winner = rng.choice([a, b, None])
        return answer(
            project,
            winner=winner,
            strength=rng.randint(1, 3),
            all_bad=rng.random() < 0.2,
            scores={c: {d: rng.randint(1, 7) for d in dims} for c in (a, b)},
            flags={b: ["factual_error"]} if rng.random() < 0.3 else None,
        )

    for index, user in enumerate(trainers):
        for _ in range(len(items) - index * 2):  # fewer judgments for later trainers
            judge(project, user, answer_for)
    Prompt.objects.filter(pk=items[3].prompt_id).update(consent="opted_out")
    return items


def _expected(project) -> list[tuple]:
    """What the stream must yield, from the ORM: per item in (prompt, item) order, its
    candidates in slot order and its judgment ids in id order."""
    out = []
    items = (
        Item.objects.filter(project=project, assignments__judgment__isnull=False)
        .exclude(prompt__consent="opted_out")
        .distinct()
        .order_by("prompt_id", "id")
    )
    for item in items:
        cands = [
            (s.candidate_id, s.candidate.text, s.candidate.model_name)
            for s in item.slots.select_related("candidate").order_by("slot")
        ]
        judgments = list(
            Judgment.objects.filter(assignment__item=item)
            .order_by("id")
            .values_list("id", flat=True)
        )
        out.append((item.pk, item.prompt_id, item.prompt.messages, cands, judgments))
    return out


@pytest.mark.parametrize("batch_size", [1, 2, 1000])
def test_the_stream_pairs_every_item_with_its_own_candidates_and_judgments(
    project, mixed, batch_size
):
    options = ExportOptions.from_dict({"format": "raw", "batch_size": batch_size})
    with open_scope(project_id=project.pk, options=options, low_gold_trainers=[]) as (
        scope,
        stream,
    ):
        batches = list(stream.batches())
    got = [
        (
            item_id,
            prompt_id,
            messages,
            [(c[C_ID], c[C_TEXT], c[C_MODEL]) for c in cands],
            [j[J_ID] for j in judgments],
        )
        for batch in batches
        for item_id, prompt_id, messages, _, cands, judgments in batch
    ]
    assert got == _expected(project)
    assert all(len(batch) <= batch_size for batch in batches)
    assert scope.items == len(got) == 6
    assert scope.judgments == sum(len(row[4]) for row in got)
    assert scope.excluded["opted_out"] > 0


@pytest.mark.parametrize(
    "data",
    [
        {"format": "raw"},
        {"format": "trl_explicit", "aggregate": "none", "ties": "keep", "both_bad": "keep"},
        {"format": "trl_implicit", "provenance": True},
        {"format": "hh", "preference": "helpfulness"},
        {"format": "trl_kto"},
        {"format": "ratings", "file_type": "csv"},
    ],
)
def test_the_batch_size_never_changes_a_byte(project, mixed, data):
    fingerprints = {
        export_now(project, test_ratio=0.5, batch_size=size, **data).fingerprint
        for size in (1, 2, 1000)
    }
    assert len(fingerprints) == 1


def test_objects_older_than_the_build_are_spared_by_the_collector_only_while_it_runs(
    project, mixed, tmp_path
):
    frozen = []
    options = ExportOptions.from_dict({"format": "trl_explicit"})
    build_dataset(
        project=project,
        options=options,
        out_dir=tmp_path / "a",
        on_progress=lambda done, total: frozen.append(gc.get_freeze_count()),
    )
    assert frozen and min(frozen) > 0
    assert gc.get_freeze_count() == 0 and gc.isenabled()

    def fail(done, total):
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        build_dataset(project=project, options=options, out_dir=tmp_path / "b", on_progress=fail)
    assert gc.get_freeze_count() == 0
