"""Filters: consent, gold, late, skipped, flagged, models, dates, versions, gold accuracy."""

from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.judging.models import Assignment, Item, Judgment
from labeling.judging.services import claim_next, default_queue, set_queue_overlap, skip_assignment
from labeling.projects.models import Prompt
from tests.factories import make_item

from .helpers import answer, export_now, folder_of, judge

pytestmark = pytest.mark.django_db(transaction=True)


def ids(item) -> list[int]:
    return list(item.slots.order_by("slot").values_list("candidate_id", flat=True))


def judged_item(project, user, text, models=None, flags=None):
    item = make_item(project, prompt=text, responses=(f"{text} yes", f"{text} no"), models=models)
    a, b = ids(item)
    judge(project, user, lambda it: answer(project, winner=a, flags={b: flags} if flags else None))
    return item


def test_opted_out_prompts_are_never_exported_and_are_counted(project, trainer, exports_dir):
    kept = judged_item(project, trainer, "kept")
    gone = judged_item(project, trainer, "gone")
    Prompt.objects.filter(pk=gone.prompt_id).update(consent=Prompt.Consent.OPTED_OUT)
    export = export_now(project, format="raw", test_ratio=0)
    assert export.counts["rows"] == {"train": 1}
    assert export.counts["excluded"] == {"opted_out": 1}
    assert export.counts["opted_out_prompts"] == 1
    text = (folder_of(exports_dir, export) / "data/train.jsonl").read_text()
    assert "gone" not in text and f'"group_id":{kept.pk}' in text
    manifest = (folder_of(exports_dir, export) / "manifest.json").read_text()
    assert '"opted_out_prompts": 1' in manifest


def test_gold_items_and_late_judgments_are_left_out_unless_included(project, trainer):
    judged_item(project, trainer, "normal")
    gold = judged_item(project, trainer, "gold")
    late = judged_item(project, trainer, "late")
    Item.objects.filter(pk=gold.pk).update(is_gold=True)
    Judgment.objects.filter(assignment__item=late).update(counts=False)
    default = export_now(project, format="raw", test_ratio=0)
    assert default.counts["rows"] == {"train": 1}
    assert default.counts["excluded"] == {"gold": 1, "late": 1}
    everything = export_now(project, format="raw", test_ratio=0, include_gold=True,
                            include_late=True)  # fmt: skip
    assert everything.counts["rows"] == {"train": 3}


def test_min_judgments_min_agreement_skipped_and_flagged_items(project, trainer, other_trainer):
    set_queue_overlap(queue=default_queue(project), overlap=2)
    one = make_item(project, prompt="one", responses=("1a", "1b"))
    a1, b1 = ids(one)
    judge(project, trainer, lambda it: answer(project, winner=a1))
    judge(project, other_trainer, lambda it: answer(project, winner=b1))  # they disagree
    two = make_item(project, prompt="two", responses=("2a", "2b"))
    a2, b2 = ids(two)
    skipped_one = claim_next(trainer=other_trainer, project=project)
    assert skipped_one.item_id == two.pk
    skip_assignment(trainer=other_trainer, assignment=skipped_one, reason="unclear")
    judge(project, trainer, lambda it: answer(project, winner=a2, flags={b2: ["violence"]}))

    base = export_now(project, format="trl_explicit", test_ratio=0, ties="keep")
    assert base.counts["rows"] == {"train": 2}
    assert export_now(project, format="trl_explicit", test_ratio=0, min_judgments=2).counts[
        "excluded"
    ] == {"min_judgments": 1}
    disagree = export_now(project, format="trl_explicit", test_ratio=0, ties="keep",
                          min_agreement=0.75)  # fmt: skip
    assert disagree.counts["rows"] == {"train": 1}
    assert disagree.counts["dropped"]["pairs_below_agreement"] == 1
    skipped = export_now(project, format="trl_explicit", test_ratio=0, exclude_skipped=True)
    assert skipped.counts["excluded"] == {"skipped_item": 1}
    flagged = export_now(project, format="trl_explicit", test_ratio=0, ties="keep",
                         exclude_flagged="harm")  # fmt: skip
    assert flagged.counts["excluded"] == {"flagged_item": 1}
    assert flagged.counts["rows"] == {"train": 1}


def test_models_dates_and_guideline_versions_filter(project, trainer):
    judged_item(project, trainer, "x", models=("m-1", "m-2"))
    judged_item(project, trainer, "y", models=("m-1", "m-3"))
    only = export_now(project, format="trl_explicit", test_ratio=0, models=["m-1", "m-2"])
    assert only.counts["rows"] == {"train": 1}
    assert only.counts["dropped"]["candidates_model_filtered"] == 1
    yesterday = (timezone.now() - timedelta(days=1)).date().isoformat()
    today = timezone.now().date().isoformat()
    assert export_now(project, format="raw", date_to=yesterday).counts["excluded"] == {
        "date_range": 2
    }
    assert export_now(project, format="raw", test_ratio=0, date_from=today).counts["rows"] == {
        "train": 2
    }
    versions = export_now(project, format="raw", guideline_versions=[2])
    assert versions.counts["excluded"] == {"guideline_version": 2}


def _gold_judgment(item, user, preferred):
    assignment = Assignment.objects.create(
        item=item, trainer=user, status=Assignment.Status.SUBMITTED,
        lease_expires_at=timezone.now(), display_order=ids(item),
    )  # fmt: skip
    Judgment.objects.create(assignment=assignment, preferred_id=preferred, strength=2,
                            shown_order=ids(item), guideline_version=1)  # fmt: skip


def test_trainers_below_the_gold_accuracy_are_left_out_once_gold_exists(
    project, trainer, other_trainer, exports_dir
):
    set_queue_overlap(queue=default_queue(project), overlap=2)
    item = make_item(project, prompt="real", responses=("ra", "rb"))
    a, _ = ids(item)
    for user in (trainer, other_trainer):
        judge(project, user, lambda it: answer(project, winner=a))
    no_gold = export_now(project, format="raw", test_ratio=0, min_gold_accuracy=0.5)
    assert no_gold.counts["rows"] == {"train": 2}
    card = (folder_of(exports_dir, no_gold) / "README.md").read_text()
    assert "no gold item has an answer yet: no trainer was excluded" in card

    gold = make_item(project, prompt="gold", responses=("right", "wrong"))
    right, wrong = ids(gold)
    Item.objects.filter(pk=gold.pk).update(is_gold=True, gold_answer={"preferred": right})
    _gold_judgment(gold, trainer, wrong)
    _gold_judgment(gold, other_trainer, right)
    filtered = export_now(project, format="raw", test_ratio=0, min_gold_accuracy=0.5)
    assert filtered.counts["rows"] == {"train": 1}
    assert filtered.counts["excluded"] == {"gold": 2, "trainer_gold_accuracy": 1}
    card = (folder_of(exports_dir, filtered) / "README.md").read_text()
    assert "(1 of 2 trainers with gold judgments)" in card
