"""Red-team attempts as a dataset: one row per judged response, JSONL or Parquet, with a card.

Kept apart from preference exports (as Anthropic keeps `red-team-attempts` apart from its
preference data). Built synchronously in the request: a campaign is hundreds to a few
thousand attempts, read in one query (2,000 take one to two seconds on 2 cores), and the
preference export job (labeling/datasets/build.py) is bound to its preference formats. The writers,
pseudonyms, storage, archive and app version are labeling/datasets' own, imported.
"""

import hashlib
import json
import shutil
import tempfile
from datetime import UTC
from pathlib import Path

import pyarrow as pa
from django.core.files import File
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from labeling.core import audit
from labeling.datasets.card import app_version
from labeling.datasets.pseudonyms import load_erased, pseudonym
from labeling.datasets.services import exports_storage
from labeling.datasets.writers import WRITERS
from labeling.projects.models import Project, Prompt

from .models import RedTeamExport
from .services import ATTACK_CATEGORIES, SEVERITY_CATEGORIES, judged_attempts

SCHEMA_VERSION = 1
FILE_TYPES = ("jsonl", "parquet")
CARD_NAME = "README.md"
MANIFEST_NAME = "manifest.json"
SPLIT = "train"

_MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
COLUMNS: list[tuple[str, pa.DataType]] = [
    ("attempt_id", pa.int64()),
    ("judgment_id", pa.int64()),
    ("prompt", pa.list_(_MESSAGE)),
    ("response", pa.string()),
    ("model", pa.string()),
    ("success", pa.bool_()),
    ("severity", pa.int8()),
    ("severities", pa.struct([(key, pa.int8()) for key, _ in SEVERITY_CATEGORIES])),
    ("categories", pa.list_(pa.string())),
    ("attack_category", pa.string()),
    ("tactic", pa.string()),
    ("rationale", pa.string()),
    ("trainer", pa.string()),
    ("candidate_id", pa.int64()),
    ("created_at", pa.string()),
]
COLUMN_NOTES = {
    "attempt_id": "the attack's id (one attack, one or more responses)",
    "judgment_id": "the verdict's id",
    "prompt": "the attack as a conversation of {role, content} messages",
    "response": "the model's response",
    "model": "the model name the endpoint reported",
    "success": "did the attack succeed (the response did the harm asked for)",
    "severity": "harm severity 0–4 in the attack's own category",
    "severities": "harm severity 0–4 per taxonomy category; null where not rated",
    "categories": "categories rated 1 or more",
    "attack_category": "the harm the attack aimed at",
    "tactic": "the tactic the trainer used, in their words",
    "rationale": "the trainer's reasons",
    "trainer": "the author's pseudonym (`t-` + HMAC of the user id; `deleted` once erased)",
    "candidate_id": "the response's id in this deployment",
    "created_at": "when the verdict was last saved (UTC, ISO 8601)",
}
SEVERITY_TEXT = "0 none, 1 mild, 2 moderate, 3 severe, 4 extreme"


def attempt_rows(*, project: Project) -> list[dict]:
    """Every judged response of the project's live attacks, in attack then response order."""
    load_erased()
    judgments = (
        judged_attempts(project=project)
        .select_related("attack__prompt", "candidate")
        .order_by("attack_id", "candidate_id")
    )
    rows = []
    for j in judgments:
        severities = {key: j.severities.get(key) for key, _ in SEVERITY_CATEGORIES}
        rows.append(
            {
                "attempt_id": j.attack_id,
                "judgment_id": j.pk,
                "prompt": [
                    {"role": m["role"], "content": m["content"]} for m in j.attack.prompt.messages
                ],
                "response": j.candidate.text,
                "model": j.candidate.model_name,
                "success": j.success,
                "severity": j.severity,
                "severities": severities,
                "categories": [k for k, s in severities.items() if s],
                "attack_category": j.attack.category,
                "tactic": j.attack.tactic,
                "rationale": j.rationale,
                "trainer": pseudonym(j.attack.author_id),
                "candidate_id": j.candidate_id,
                "created_at": j.updated_at.astimezone(UTC).isoformat(),
            }
        )
    return rows


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def summarize(rows: list[dict]) -> dict:
    by_category: dict[str, list[int]] = {}
    for row in rows:
        counts = by_category.setdefault(row["attack_category"], [0, 0])
        counts[0] += 1
        counts[1] += int(row["success"])
    return {
        "attempts": len(rows),
        "attacks": len({r["attempt_id"] for r in rows}),
        "successes": sum(1 for r in rows if r["success"]),
        "trainers": len({r["trainer"] for r in rows}),
        "models": sorted({r["model"] for r in rows}),
        "by_category": {k: {"attempts": a, "successes": s} for k, (a, s) in by_category.items()},
    }


def render_card(*, project: Project, file_name: str, counts: dict) -> str:
    """README.md: the HF YAML header (one train split), then what the rows are and how made."""
    labels = dict(ATTACK_CATEGORIES)
    yaml = [
        "---",
        "configs:",
        "- config_name: default",
        "  data_files:",
        f"  - split: {SPLIT}",
        f"    path: {file_name}",
        f"pretty_name: {json.dumps(project.name + ' · red-team attempts', ensure_ascii=False)}",
        "tags:",
        "- red-teaming",
        "- safety",
        "- human-feedback",
        "---",
    ]
    category_rows = [
        [f"`{k}` ({labels.get(k, k)})", v["attempts"], v["successes"],
         f"{v['successes'] / v['attempts']:.0%}" if v["attempts"] else "—"]
        for k, v in sorted(counts["by_category"].items())
    ]  # fmt: skip
    lines = [
        "\n".join(yaml),
        "",
        f"# {project.name}: red-team attempts",
        "",
        "Adversarial prompts written by invited trainers in the red-team project "
        f"`{project.slug}`, the responses of the models they were sent to, and the author's "
        "verdict on each response: did the attack succeed, how severe the harm was per "
        "category of the harm taxonomy, and why. One row per judged response. This is not "
        "preference data: it is kept apart from the project's preference exports.",
        "",
        "## Splits",
        "",
        _table(["split", "rows", "file"], [[SPLIT, f"{counts['attempts']:,}", f"`{file_name}`"]]),
        "",
        "## Columns",
        "",
        _table(
            ["column", "type", "meaning"],
            [[f"`{n}`", f"`{t}`", COLUMN_NOTES[n]] for n, t in COLUMNS],
        ),
        "",
        "## How rows were made",
        "",
        "- A trainer wrote each attack with the harm it aims at (a key of the fixed harm "
        "taxonomy) and the tactic used, in free text.",
        "- The attack was sent to model endpoints by the platform's generation jobs; each "
        "response is one row.",
        f"- The attack's author judged each response: success yes/no and severity ({SEVERITY_TEXT})"
        " in the attack's category (required) and in any other category (optional). A "
        "success has severity 1 or more in its own category.",
        f"- {counts['attempts']:,} attempts of {counts['attacks']:,} attacks by "
        f"{counts['trainers']:,} trainers; {counts['successes']:,} succeeded. Models: "
        + (", ".join(f"`{m}`" for m in counts["models"]) or "none")
        + ".",
        "",
        "## Success rate per category",
        "",
        _table(["category", "attempts", "successes", "rate"], category_rows)
        if category_rows
        else "No judged attempts yet.",
        "",
        "## Known limits",
        "",
        "- Rows contain harmful text on purpose. Handle with care; do not train a model to "
        "imitate the successful responses.",
        "- Verdicts are single trainers' opinions (the author's).",
        "- Prompts deleted on request or quarantined are never exported. Personal data is not "
        "redacted.",
        "- Ids are this deployment's database ids.",
        "",
        f"Schema version {SCHEMA_VERSION}.",
        "",
    ]
    return "\n".join(lines)


@transaction.atomic
def export_attempts(*, project: Project, by, file_type: str) -> RedTeamExport:
    """Build the next version of the project's red-team attempts export into storage."""
    if file_type not in FILE_TYPES:
        raise ValueError(f"file type {file_type!r}")
    Project.objects.select_for_update().filter(pk=project.pk).first()  # versions take turns
    last = RedTeamExport.objects.filter(project=project).aggregate(v=Max("version"))["v"] or 0
    version = last + 1
    folder = f"{project.slug}/redteam-v{version}"
    rows = attempt_rows(project=project)
    counts = summarize(rows)
    data_name = f"data/{SPLIT}.{file_type}"
    storage = exports_storage()
    scratch = Path(tempfile.mkdtemp(prefix="redteam-export-"))
    try:
        (scratch / "data").mkdir()
        writer = WRITERS[file_type](scratch / data_name, COLUMNS)
        writer.write_rows(rows)
        size, sha = writer.close()
        files = [
            {"name": data_name, "split": SPLIT, "rows": len(rows), "bytes": size, "sha256": sha}
        ]
        card = render_card(project=project, file_name=data_name, counts=counts).encode()
        (scratch / CARD_NAME).write_bytes(card)
        files.append({"name": CARD_NAME, "bytes": len(card), "sha256": _sha(card)})
        manifest = {
            "schema_version": SCHEMA_VERSION,
            "app_version": app_version(),
            "created_at": timezone.now().isoformat(),
            "project": project.slug,
            "export_version": version,
            "kind": "red_team_attempts",
            "file_type": file_type,
            "counts": counts,
            "files": files,
        }
        body = (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
        (scratch / MANIFEST_NAME).write_bytes(body)
        files.append({"name": MANIFEST_NAME, "bytes": len(body), "sha256": _sha(body)})
        for f in files:
            with open(scratch / f["name"], "rb") as fh:
                saved = storage.save(f"{folder}/{f['name']}", File(fh, name=f["name"]))
            if saved != f"{folder}/{f['name']}":
                raise RuntimeError(f"storage stored {f['name']} as {saved}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    export = RedTeamExport.objects.create(
        project=project,
        version=version,
        file_type=file_type,
        created_by=by,
        folder=folder,
        files=files,
        counts=counts,
    )
    audit.record(
        action="export_created",
        kind="red_team_attempts",
        actor=by,
        project=project,
        obj=export,
        rows=len(rows),
        file_type=file_type,
    )
    return export


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def record_download(*, export: RedTeamExport, user, name: str) -> None:
    """Log a download of an export's file (or of the whole .tar)."""
    audit.record(
        action="export_download",
        actor=user,
        project=export.project,
        obj=export,
        kind="red_team_attempts",
        file=name,
    )


class ExportWithdrawn(Exception):
    """A deletion request withdrew this export: its files may no longer be downloaded."""


def allow_download(*, export: RedTeamExport, user, name: str) -> None:
    """Refuse a withdrawn export; otherwise log the download (of a file or the .tar)."""
    if export.withdrawn_at:
        raise ExportWithdrawn("This export was withdrawn by a deletion request.")
    record_download(export=export, user=user, name=name)


@transaction.atomic
def withdraw_exports(*, project_id: int) -> int:
    """Withdraw the red-team exports that may hold a deleted prompt; delete their files."""
    oldest = Prompt.objects.filter(project_id=project_id, deleted_at__isnull=False).aggregate(
        t=Min("created_at")
    )["t"]
    if oldest is None:
        return 0
    exports = list(
        RedTeamExport.objects.select_for_update().filter(
            project_id=project_id, created_at__gte=oldest, withdrawn_at__isnull=True
        )
    )
    storage = exports_storage()
    now = timezone.now()
    for export in exports:
        for f in export.files:
            storage.delete(f"{export.folder}/{f['name']}")
        export.withdrawn_at = now
        export.save(update_fields=["withdrawn_at", "updated_at"])
    return len(exports)
