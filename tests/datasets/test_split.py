"""The split is by prompt content: stable, seeded, never the same prompt in two splits."""

import json

import pytest
from django.urls import reverse

from labeling.datasets.split import normalize_conversation, split_of
from tests.factories import make_item

from .helpers import answer, export_now, folder_of, judge, read_jsonl

pytestmark = pytest.mark.django_db(transaction=True)


def test_normalization_ignores_case_spacing_and_unicode_form():
    a = [{"role": "user", "content": "Café  au lait?"}]
    b = [{"role": "User", "content": " cafe\u0301 AU lait? "}]
    assert normalize_conversation(a) == normalize_conversation(b)
    assert split_of(a, seed=1, test_ratio=0.5) == split_of(b, seed=1, test_ratio=0.5)


def test_the_share_in_test_follows_the_ratio_and_the_seed_changes_it():
    prompts = [[{"role": "user", "content": f"prompt {n}"}] for n in range(2000)]
    tests = [split_of(p, seed=0, test_ratio=0.2) == "test" for p in prompts]
    assert 300 < sum(tests) < 500
    other = [split_of(p, seed=1, test_ratio=0.2) == "test" for p in prompts]
    assert tests != other
    assert tests == [split_of(p, seed=0, test_ratio=0.2) == "test" for p in prompts]


@pytest.fixture
def with_duplicates(project, trainer, other_trainer):
    """Ten prompts, each imported twice (the second copy differently spaced and cased)."""
    for n in range(10):
        for copy in range(2):
            text = f"Tell me fact {n}." if copy == 0 else f"  tell me  FACT {n}. "
            item = make_item(project, prompt=text, responses=(f"Fact {n}.", "No."))
            good, _ = item.slots.order_by("slot").values_list("candidate_id", flat=True)
            judge(project, trainer, lambda it, good=good: answer(project, winner=good))


def _prompts_by_split(folder) -> dict[str, set[bytes]]:
    out = {}
    for split in ("train", "test"):
        path = folder / f"data/{split}.jsonl"
        rows = read_jsonl(path) if path.exists() else []
        out[split] = {normalize_conversation(r["prompt"]) for r in rows}
    return out


def test_no_prompt_is_in_two_splits_even_when_imported_twice(project, with_duplicates, exports_dir):
    export = export_now(project, format="trl_explicit", test_ratio=0.5, seed=11)
    by_split = _prompts_by_split(folder_of(exports_dir, export))
    assert by_split["train"] and by_split["test"]
    assert not by_split["train"] & by_split["test"]
    assert export.counts["rows"]["train"] + export.counts["rows"]["test"] == 20
    assert export.counts["rows"]["train"] % 2 == 0  # duplicates travel together


def test_two_exports_with_the_same_options_have_byte_identical_data_and_card(
    project, with_duplicates, exports_dir
):
    first = export_now(project, format="trl_explicit", test_ratio=0.5, seed=11)
    second = export_now(project, format="trl_explicit", test_ratio=0.5, seed=11, batch_size=3)
    a, b = folder_of(exports_dir, first), folder_of(exports_dir, second)
    for name in ("data/train.jsonl", "data/test.jsonl", "README.md"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert first.fingerprint == second.fingerprint
    ma = json.loads((a / "manifest.json").read_text())
    mb = json.loads((b / "manifest.json").read_text())
    assert ma["files"] == mb["files"]
    assert {k for k in ma if ma[k] != mb[k]} <= {"created_at", "export_version", "options"}
    assert ma["options"]["batch_size"] == 1000 and mb["options"]["batch_size"] == 3


def test_parquet_exports_are_byte_identical_too(project, with_duplicates, exports_dir):
    first = export_now(project, format="raw", file_type="parquet", test_ratio=0.5)
    second = export_now(project, format="raw", file_type="parquet", test_ratio=0.5, batch_size=2)
    assert first.fingerprint == second.fingerprint
    a, b = folder_of(exports_dir, first), folder_of(exports_dir, second)
    assert (a / "data/train.parquet").read_bytes() == (b / "data/train.parquet").read_bytes()


def test_the_same_seed_gives_the_same_split_after_new_data_arrives(
    project, with_duplicates, exports_dir, other_trainer
):
    before = export_now(project, format="trl_explicit", test_ratio=0.5, seed=5)
    item = make_item(project, prompt="A brand new question?", responses=("Yes.", "No."))
    good, _ = item.slots.order_by("slot").values_list("candidate_id", flat=True)
    judge(project, other_trainer, lambda it: answer(project, winner=good))
    after = export_now(project, format="trl_explicit", test_ratio=0.5, seed=5)
    old, new = (_prompts_by_split(folder_of(exports_dir, e)) for e in (before, after))
    for split in ("train", "test"):
        assert old[split] <= new[split]


def test_comparing_two_exports_lists_added_and_removed_pairs(
    client, project, with_duplicates, exports_dir, other_trainer, researcher
):
    before = export_now(project, format="trl_explicit", test_ratio=0.5, seed=5)
    item = make_item(project, prompt="A brand new question?", responses=("Yes.", "No."))
    good, _ = item.slots.order_by("slot").values_list("candidate_id", flat=True)
    judge(project, other_trainer, lambda it: answer(project, winner=good))
    after = export_now(project, format="trl_explicit", test_ratio=0.5, seed=5)
    client.force_login(researcher)
    url = reverse("export_compare", args=[project.slug])
    page = client.get(url, {"a": before.version, "b": after.version}).content.decode()
    assert "rows added" in page and f"item {item.pk} · {good} preferred to" in page
    comparison = client.get(url, {"a": before.version, "b": after.version}).context["comparison"]
    assert (comparison.added, comparison.removed, comparison.unchanged) == (1, 0, 20)
    same = client.get(url, {"a": before.version, "b": before.version}).content.decode()
    assert "Identical data files and card" in same
