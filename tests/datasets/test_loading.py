"""The exported folders load as they are with Hugging Face datasets and pandas."""

import json

import datasets
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from labeling.datasets.formats import MESSAGES
from tests.factories import make_item

from .helpers import answer, export_now, folder_of, judge

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def many(project, trainer):
    """Twelve judged items, so a 50% test share puts prompts in both splits."""
    for n in range(12):
        item = make_item(project, prompt=f"Question number {n}?",
                         responses=(f"Good answer {n}.", f"Bad answer {n}."))  # fmt: skip
        good, bad = item.slots.order_by("slot").values_list("candidate_id", flat=True)
        judge(
            project,
            trainer,
            lambda it, good=good, bad=bad, n=n: answer(
                project,
                winner=good,
                strength=1 + n % 3,
                scores={
                    good: {"helpfulness": 6, "truthfulness": 6, "harmlessness": 7},
                    bad: {"helpfulness": 2, "truthfulness": 3, "harmlessness": 7},
                },
            ),  # fmt: skip
        )


def test_trl_jsonl_loads_with_datasets_by_data_files_and_by_folder_and_with_pandas(
    project, many, exports_dir, tmp_path
):
    export = export_now(project, format="trl_explicit", test_ratio=0.5, seed=1)
    folder = folder_of(exports_dir, export)
    rows = export.counts["rows"]
    assert rows["train"] > 0 and rows["test"] > 0 and rows["train"] + rows["test"] == 12

    by_files = datasets.load_dataset(
        "json",
        data_files={s: str(folder / f"data/{s}.jsonl") for s in ("train", "test")},
        cache_dir=str(tmp_path / "hf"),
    )
    assert by_files["train"].num_rows == rows["train"]
    first = by_files["train"][0]
    assert first["chosen"][0]["role"] == "assistant"
    assert first["prompt"][0]["content"].startswith("Question number")
    assert isinstance(first["margin"], float)

    by_folder = datasets.load_dataset(str(folder), cache_dir=str(tmp_path / "hf2"))
    assert set(by_folder) == {"train", "test"}
    assert by_folder["test"].num_rows == rows["test"]
    assert by_folder["train"].column_names == [
        "prompt", "chosen", "rejected", "margin", "strength", "group_id", "n_judgments",
        "agreement",
    ]  # fmt: skip

    frame = pd.read_json(folder / "data/train.jsonl", lines=True)
    assert len(frame) == rows["train"]


def test_parquet_schema_is_as_documented_and_loads(project, many, exports_dir, tmp_path):
    export = export_now(project, format="trl_explicit", file_type="parquet", test_ratio=0.5)
    folder = folder_of(exports_dir, export)
    schema = pq.read_schema(folder / "data/train.parquet")
    assert schema.names == [
        "prompt", "chosen", "rejected", "margin", "strength", "group_id", "n_judgments",
        "agreement",
    ]  # fmt: skip
    assert schema.field("prompt").type == MESSAGES
    assert schema.field("chosen").type == pa.list_(
        pa.struct([("role", pa.string()), ("content", pa.string())])
    )
    assert schema.field("margin").type == pa.float64()
    assert schema.field("group_id").type == pa.int64()
    loaded = datasets.load_dataset(str(folder), cache_dir=str(tmp_path / "hf"))
    assert loaded["train"].num_rows == export.counts["rows"]["train"]
    assert loaded["train"][0]["rejected"][0]["content"].startswith("Bad answer")
    frame = pd.read_parquet(folder / "data/test.parquet")
    assert len(frame) == export.counts["rows"]["test"]


@pytest.mark.parametrize(
    ("fmt", "file_type"),
    [
        ("openai", "jsonl"),
        ("hh", "csv"),
        ("trl_kto", "parquet"),
        ("ratings", "csv"),
        ("raw", "parquet"),
        ("trl_implicit", "jsonl"),
    ],  # fmt: skip
)
def test_every_format_loads_from_its_folder(project, many, exports_dir, tmp_path, fmt, file_type):
    export = export_now(project, format=fmt, file_type=file_type, test_ratio=0.5)
    loaded = datasets.load_dataset(
        str(folder_of(exports_dir, export)), cache_dir=str(tmp_path / "hf")
    )
    assert {s: loaded[s].num_rows for s in loaded} == export.counts["rows"]


def test_the_card_has_the_hugging_face_yaml_header_and_the_manifest_the_hashes(
    project, many, exports_dir
):
    export = export_now(project, format="trl_explicit", test_ratio=0.5, seed=3)
    folder = folder_of(exports_dir, export)
    card = (folder / "README.md").read_text()
    header = card.split("---\n")[1]
    assert "configs:\n- config_name: default\n  data_files:\n  - split: train\n" in header
    assert "    path: data/train.jsonl\n" in header and "    path: data/test.jsonl\n" in header
    assert "Margin (`margin` column) from strength" in card
    assert "seed `3`" in card
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["schema_version"] == 1 and manifest["export_version"] == 1
    assert manifest["options"]["seed"] == 3
    import hashlib

    for f in manifest["files"]:
        assert hashlib.sha256((folder / f["name"]).read_bytes()).hexdigest() == f["sha256"]
    assert {f["name"] for f in manifest["files"]} == {
        "data/train.jsonl", "data/test.jsonl", "README.md",
    }  # fmt: skip
