"""Golden rows per format on a small hand-built project.

Two items judged by one trainer through the real services; on the first the better response
was shown on the right (B), so a position mix-up would flip chosen and rejected.
"""

import csv
import io

import pytest

from labeling.datasets.pseudonyms import pseudonym
from tests.factories import make_item

from .helpers import answer, export_now, folder_of, judge, read_jsonl

# Exports read through their own database connection, so the data must be committed.
pytestmark = pytest.mark.django_db(transaction=True)

SYSTEM = {"role": "system", "content": "Be brief."}
SKY = [SYSTEM, {"role": "user", "content": "What colour is the sky?"}]
PARIS = [
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello! How can I help?"},
    {"role": "user", "content": "Capital of France?"},
]


def ids(item) -> list[int]:
    return list(item.slots.order_by("slot").values_list("candidate_id", flat=True))


@pytest.fixture
def world(project, trainer):
    sky = make_item(project, prompt=SKY, responses=("It is blue.", "It is green."),
                    models=("m-good", "m-bad"))  # fmt: skip
    blue, green = ids(sky)
    sky_judgment = judge(
        project,
        trainer,
        lambda item: answer(
            project,
            winner=blue,
            strength=3,
            scores={
                blue: {"helpfulness": 7, "truthfulness": 7, "harmlessness": 7},
                green: {"helpfulness": 2, "truthfulness": 1, "harmlessness": 6},
            },
            flags={green: ["factual_error"]},
            rationale="Green is wrong.",
        ),
        shown=lambda order: [green, blue],  # the better answer on the right, as B
    )
    paris = make_item(project, prompt=PARIS, responses=("Lyon.", "Paris."),
                      models=("m-bad", "m-good"))  # fmt: skip
    lyon, paris_c = ids(paris)
    paris_judgment = judge(
        project,
        trainer,
        lambda item: answer(
            project,
            winner=paris_c,
            strength=1,
            scores={
                lyon: {"helpfulness": 3, "truthfulness": 2, "harmlessness": 7},
                paris_c: {"helpfulness": 6, "truthfulness": 7, "harmlessness": 7},
            },
        ),
        shown=lambda order: [lyon, paris_c],
    )
    return {
        "sky": sky, "blue": blue, "green": green, "paris_item": paris, "lyon": lyon,
        "paris": paris_c, "sky_j": sky_judgment, "paris_j": paris_judgment,
    }  # fmt: skip


def asst(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def train_rows(exports_dir, export, ext="jsonl"):
    return read_jsonl(folder_of(exports_dir, export) / f"data/train.{ext}")


def test_trl_explicit_rows_are_exact_even_when_the_better_answer_was_shown_on_the_right(
    project, world, exports_dir
):
    export = export_now(project, format="trl_explicit", test_ratio=0)
    assert train_rows(exports_dir, export) == [
        {"prompt": SKY, "chosen": asst("It is blue."), "rejected": asst("It is green."),
         "margin": 1.0, "strength": 3.0, "group_id": world["sky"].pk, "n_judgments": 1,
         "agreement": 1.0},
        {"prompt": PARIS, "chosen": asst("Paris."), "rejected": asst("Lyon."),
         "margin": 0.3333, "strength": 1.0, "group_id": world["paris_item"].pk,
         "n_judgments": 1, "agreement": 1.0},
    ]  # fmt: skip


def test_trl_implicit_repeats_the_conversation_inside_chosen_and_rejected(
    project, world, exports_dir
):
    export = export_now(project, format="trl_implicit", test_ratio=0, margins="1:1,2:2,3:3")
    rows = train_rows(exports_dir, export)
    assert rows[0] == {
        "chosen": SKY + asst("It is blue."), "rejected": SKY + asst("It is green."),
        "margin": 3.0, "strength": 3.0, "group_id": world["sky"].pk, "n_judgments": 1,
        "agreement": 1.0,
    }  # fmt: skip
    assert rows[1]["chosen"] == PARIS + asst("Paris.")
    assert rows[1]["margin"] == 1.0


def test_openai_rows_have_exactly_the_three_documented_fields(project, world, exports_dir):
    export = export_now(project, format="openai", test_ratio=0)
    assert train_rows(exports_dir, export) == [
        {"input": {"messages": SKY}, "preferred_output": asst("It is blue."),
         "non_preferred_output": asst("It is green.")},
        {"input": {"messages": PARIS}, "preferred_output": asst("Paris."),
         "non_preferred_output": asst("Lyon.")},
    ]  # fmt: skip


def test_hh_transcripts_leave_out_the_system_message(project, world, exports_dir):
    export = export_now(project, format="hh", test_ratio=0)
    rows = train_rows(exports_dir, export)
    assert rows[0]["chosen"] == "\n\nHuman: What colour is the sky?\n\nAssistant: It is blue."
    assert rows[0]["rejected"] == "\n\nHuman: What colour is the sky?\n\nAssistant: It is green."
    assert rows[1]["chosen"] == (
        "\n\nHuman: Hi\n\nAssistant: Hello! How can I help?"
        "\n\nHuman: Capital of France?\n\nAssistant: Paris."
    )
    assert set(rows[0]) == {"chosen", "rejected", "margin", "strength", "group_id",
                            "n_judgments", "agreement"}  # fmt: skip


def test_hh_csv_is_flat_and_reads_back(project, world, exports_dir):
    export = export_now(project, format="hh", file_type="csv", test_ratio=0)
    text = (folder_of(exports_dir, export) / "data/train.csv").read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["chosen"].endswith("Assistant: It is blue.")
    assert rows[0]["margin"] == "1.0"


def test_kto_labels_each_response_by_its_mean_score_against_the_threshold(
    project, world, exports_dir
):
    export = export_now(project, format="trl_kto", test_ratio=0, kto_threshold=5)
    assert train_rows(exports_dir, export) == [
        {"prompt": SKY, "completion": asst("It is blue."), "label": True, "score": 7.0,
         "n_ratings": 1, "prompt_id": world["sky"].prompt_id, "candidate_id": world["blue"]},
        {"prompt": SKY, "completion": asst("It is green."), "label": False, "score": 3.0,
         "n_ratings": 1, "prompt_id": world["sky"].prompt_id, "candidate_id": world["green"]},
        {"prompt": PARIS, "completion": asst("Lyon."), "label": False, "score": 4.0,
         "n_ratings": 1, "prompt_id": world["paris_item"].prompt_id,
         "candidate_id": world["lyon"]},
        {"prompt": PARIS, "completion": asst("Paris."), "label": True, "score": 6.6667,
         "n_ratings": 1, "prompt_id": world["paris_item"].prompt_id,
         "candidate_id": world["paris"]},
    ]  # fmt: skip


def test_ratings_give_the_mean_per_dimension_flags_and_model(project, world, exports_dir):
    export = export_now(project, format="ratings", test_ratio=0)
    rows = train_rows(exports_dir, export)
    assert rows[1] == {
        "prompt": SKY, "response": "It is green.", "prompt_id": world["sky"].prompt_id,
        "candidate_id": world["green"], "model": "m-bad", "helpfulness": 2.0,
        "truthfulness": 1.0, "harmlessness": 6.0, "n_ratings": 1, "flags": ["factual_error"],
    }  # fmt: skip
    assert [r["model"] for r in rows] == ["m-good", "m-bad", "m-bad", "m-good"]


def test_ratings_csv_flattens_lists(project, world, exports_dir):
    export = export_now(project, format="ratings", file_type="csv", test_ratio=0)
    rows = list(csv.DictReader(io.StringIO(
        (folder_of(exports_dir, export) / "data/train.csv").read_text()
    )))  # fmt: skip
    assert rows[1]["flags"] == "factual_error"
    assert rows[1]["truthfulness"] == "1.0"


def test_raw_rows_hold_everything_stored_with_the_trainer_pseudonymized(
    project, world, exports_dir, trainer
):
    export = export_now(project, format="raw", test_ratio=0)
    row = train_rows(exports_dir, export)[0]
    j = world["sky_j"]
    blue, green = world["blue"], world["green"]
    assert row == {
        "judgment_id": j.pk, "group_id": world["sky"].pk, "prompt_id": world["sky"].prompt_id,
        "prompt": SKY,
        "candidates": [
            {"id": blue, "text": "It is blue.", "model": "m-good", "generation": "{}"},
            {"id": green, "text": "It is green.", "model": "m-bad", "generation": "{}"},
        ],
        "shown_order": [green, blue], "preferred": blue, "strength": 3, "ranking": None,
        "all_bad": False,
        "scores": [
            {"candidate": blue, "dimension": "helpfulness", "value": 7},
            {"candidate": blue, "dimension": "truthfulness", "value": 7},
            {"candidate": blue, "dimension": "harmlessness", "value": 7},
            {"candidate": green, "dimension": "helpfulness", "value": 2},
            {"candidate": green, "dimension": "truthfulness", "value": 1},
            {"candidate": green, "dimension": "harmlessness", "value": 6},
        ],
        "flags": [{"candidate": green, "key": "factual_error"}],
        "rationale": "Green is wrong.", "time_spent_ms": 4200, "guideline_version": 1,
        "trainer": pseudonym(trainer.pk), "created_at": row["created_at"], "late": False,
        "is_gold": False,
    }  # fmt: skip
    assert row["created_at"].startswith(j.created_at.strftime("%Y-%m-%dT%H:%M"))
    text = (folder_of(exports_dir, export) / "data/train.jsonl").read_text()
    assert f':"{trainer.username}"' not in text  # never a username as a value


def test_provenance_columns_name_models_and_where_the_chosen_response_was_shown(
    project, world, exports_dir
):
    export = export_now(project, format="trl_explicit", test_ratio=0, provenance=True)
    rows = train_rows(exports_dir, export)
    assert rows[0]["chosen_model"] == "m-good"
    assert rows[0]["rejected_model"] == "m-bad"
    assert rows[0]["chosen_positions"] == [1]  # blue was shown second (B)
    assert rows[1]["chosen_positions"] == [1]
    assert rows[0]["chosen_generation"] == "{}"


def test_pseudonyms_are_stable_and_depend_on_the_deployment_key(settings):
    settings.PSEUDONYM_KEY = "key-one"
    first = pseudonym(7)
    assert pseudonym(7) == first and first.startswith("t-") and len(first) == 18
    settings.PSEUDONYM_KEY = "key-two"
    assert pseudonym(7) != first
