"""Build one dataset into a local folder: stream items, make rows, split, write, card.

Pure with respect to the Export row: the job (services.run_export) decides where the folder
goes and what is recorded; the command and the benchmark call the same function.
"""

import gc
import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from labeling.privacy.redact import redact
from labeling.projects.models import Dimension, Project

from .card import render_card
from .formats import clean_messages, make_format
from .options import ExportOptions
from .pseudonyms import load_erased
from .source import J_TRAINER, J_VERSION, gold_accuracy, open_scope
from .split import splitter
from .writers import WRITERS, KeyWriter, Writer

SPLITS = ("train", "test")
KEYS_NAME = ".row_keys.tsv"
CARD_NAME = "README.md"
MANIFEST_NAME = "manifest.json"


@dataclass
class BuildResult:
    files: list[dict]  # data files and the card: name, split (data only), rows, bytes, sha256
    counts: dict
    keys: dict  # the row-key index: name, bytes, sha256


def dimensions_of(project: Project) -> list[tuple[str, str]]:
    """(key, name) of every dimension with a column: active ones first, then archived."""
    dims = Dimension.objects.filter(project=project).order_by("-is_active", "position", "id")
    return [(d.key, d.name) for d in dims]


def low_gold_trainers(*, project_id: int, threshold: float | None) -> tuple[list[int], str]:
    """Trainers whose gold accuracy is below the threshold, and what the card says about it."""
    if threshold is None:
        return [], "not filtered"
    tally = gold_accuracy(project_id=project_id)
    if not tally:
        return [], (
            f"minimum {threshold:.0%} requested, but no gold item has an answer yet: "
            "no trainer was excluded"
        )
    low = sorted(t for t, (right, n) in tally.items() if right / n < threshold)
    return low, (
        f"trainers below {threshold:.0%} on gold items excluded "
        f"({len(low)} of {len(tally)} trainers with gold judgments)"
    )


@contextmanager
def _collector_spared() -> Iterator[None]:
    """Keep Python's cycle collector off the objects that were there before the export.

    An export allocates a few containers per row, so the collector runs every few hundred
    rows, and each older-generation pass walked every object the process holds (Django's
    included): a third of the export's CPU time. Frozen, those are skipped; rows and any
    cycle made while streaming are still collected, so memory stays flat.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def redact_row(value, counts: Counter):
    """Every string inside a row, with personal identifiers replaced by placeholders."""
    if isinstance(value, str):
        text, found = redact(value)
        counts.update(found)
        return text
    if isinstance(value, dict):
        return {k: redact_row(v, counts) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_row(v, counts) for v in value]
    return value


def build_dataset(
    *,
    project: Project,
    options: ExportOptions,
    out_dir: Path,
    on_progress: Callable[[int, int], None] | None = None,
) -> BuildResult:
    """Write data/<split>.<ext>, README.md and the row keys into out_dir."""
    dimensions = dimensions_of(project)
    stats: dict[str, int] = {}
    fmt = make_format(options, [k for k, _ in dimensions], stats)
    columns = fmt.columns()
    low_gold, gold_note = low_gold_trainers(
        project_id=project.pk, threshold=options.min_gold_accuracy
    )
    (out_dir / "data").mkdir(parents=True, exist_ok=True)
    writers: dict[str, Writer] = {}
    keys = KeyWriter(out_dir / KEYS_NAME)
    versions: set[int] = set()
    trainers: set[int] = set()
    writer_cls = WRITERS[options.file_type]

    load_erased()
    redactions: Counter = Counter()
    split_for = splitter(seed=options.seed, test_ratio=options.test_ratio)
    redact_pii = options.redact_pii
    rows_of = fmt.rows
    # The rows of a batch by split, and their row-key lines in output order.
    pending: dict[str, list[dict]] = {}
    key_lines: list[str] = []

    def emit(group: list) -> None:
        prompt_id, messages = group[0][1], clean_messages(group[0][2])
        for item in group:
            for j in item[5]:
                versions.add(j[J_VERSION])
                trainers.add(j[J_TRAINER])
        rows = rows_of(prompt_id, messages, group)
        if not rows:
            return
        if redact_pii:
            rows = [(key, redact_row(row, redactions)) for key, row in rows]
        # The split is decided on the original text, so redaction never moves a prompt.
        split = split_for(messages)
        tail = "\t" + split
        key_lines.extend([key + tail for key, _ in rows])
        if split not in pending:
            pending[split] = []
        pending[split].extend([row for _, row in rows])

    def flush() -> None:
        for split, rows in pending.items():
            if split not in writers:
                path = out_dir / "data" / f"{split}.{writer_cls.extension}"
                writers[split] = writer_cls(path, columns)
            writers[split].write_rows(rows)
        pending.clear()
        keys.write(key_lines)
        key_lines.clear()

    try:
        with (
            _collector_spared(),
            open_scope(project_id=project.pk, options=options, low_gold_trainers=low_gold) as (
                scope,
                stream,
            ),
        ):
            if on_progress:
                on_progress(0, scope.items)
            done = 0
            group: list = []  # the items of the prompt being read; it may span batches
            prompt_id = None
            for batch in stream.batches():
                for item in batch:
                    if item[1] != prompt_id:
                        if group:
                            emit(group)
                        group = [item]
                        prompt_id = item[1]
                    else:
                        group.append(item)
                flush()
                done += len(batch)
                if on_progress:
                    on_progress(done - len(group), scope.items)
                if options.throttle_ms:
                    time.sleep(options.throttle_ms / 1000)
            if group:
                emit(group)
                flush()
            if on_progress:
                on_progress(scope.items, scope.items)
        files = []
        for split in SPLITS:
            if split in writers:
                writer = writers.pop(split)
                size, sha = writer.close()
                files.append(
                    {
                        "name": f"data/{split}.{writer_cls.extension}",
                        "split": split,
                        "rows": writer.rows,
                        "bytes": size,
                        "sha256": sha,
                    }
                )
        key_size, key_sha = keys.close()
    finally:
        for writer in writers.values():  # only after an error: leave nothing open
            writer.close()
        keys.close()
    counts = {
        "rows": {f["split"]: f["rows"] for f in files},
        "judgments": scope.judgments,
        "items": scope.items,
        "trainers": len(trainers),
        "guideline_versions": sorted(versions),
        "excluded": dict(sorted(scope.excluded.items())),
        "opted_out_prompts": scope.opted_out_prompts,
        "redactions": dict(sorted(redactions.items())) if options.redact_pii else None,
        "dropped": dict(sorted(stats.items())),
    }
    card = render_card(
        project=project,
        options=options,
        dimensions=dimensions,
        columns=[(name, str(type_)) for name, type_ in columns],
        files=files,
        counts=counts,
        gold_note=gold_note,
    )
    card_bytes = card.encode()
    (out_dir / CARD_NAME).write_bytes(card_bytes)
    files.append(
        {
            "name": CARD_NAME,
            "bytes": len(card_bytes),
            "sha256": hashlib.sha256(card_bytes).hexdigest(),
        }
    )
    return BuildResult(
        files=files, counts=counts, keys={"name": KEYS_NAME, "bytes": key_size, "sha256": key_sha}
    )
