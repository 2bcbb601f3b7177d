"""Compare two exports: rows per split, and which rows (pairs) were added or removed.

Each export stores its row keys sorted in output order (zero-padded ids), so the comparison
is one merge pass over two files in constant memory, however large the exports.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field

from .build import KEYS_NAME
from .models import Export
from .options import PAIR_FORMATS

SAMPLES = 20


def key_kind(export: Export) -> str:
    """Exports whose rows are identified the same way can be compared row by row."""
    fmt = export.format
    if fmt in PAIR_FORMATS:
        return f"pair/{export.options.get('aggregate')}"
    if fmt == "raw":
        return "judgment"
    return f"response/{export.options.get('aggregate') if fmt == 'trl_kto' else 'majority'}"


def describe_key(key: str) -> str:
    """'000…12 000…34 000…5 000…6 5>6' -> 'prompt 12 · item 34 · 5 > 6'."""
    parts = key.split(" ")
    ids = [str(int(p)) for p in parts if p.isdigit()]
    tail = parts[-1] if parts and not parts[-1].isdigit() else ""
    labels = ["prompt", "item", "pair", "", "judgment"]
    if len(ids) == 2:
        text = f"prompt {ids[0]} · response {ids[1]}"
    elif len(ids) == 3 and not tail:
        text = f"prompt {ids[0]} · item {ids[1]} · judgment {ids[2]}"
    else:
        text = f"{labels[0]} {ids[0]} · {labels[1]} {ids[1]}"
        if len(ids) == 5:
            text += f" · judgment {ids[4]}"
    if tail == "=":
        text += f" · tie {ids[2]} = {ids[3]}"
    elif ">" in tail:
        chosen, rejected = tail.split(">")
        text += f" · {chosen} preferred to {rejected}"
    return text


@dataclass
class Comparison:
    a: Export
    b: Export
    splits: list[tuple[str, int, int]]  # split, rows in a, rows in b
    comparable: bool
    added: int = 0
    removed: int = 0
    unchanged: int = 0
    added_samples: list[str] = field(default_factory=list)
    removed_samples: list[str] = field(default_factory=list)


def _keys(export: Export, storage) -> Iterator[str]:
    with storage.open(f"{export.folder}/{KEYS_NAME}", "rb") as fh:
        for line in fh:
            yield line.decode().split("\t", 1)[0]


def compare_exports(*, a: Export, b: Export, storage) -> Comparison:
    """Rows per split side by side; added/removed rows when both identify rows alike."""
    rows_a, rows_b = a.counts.get("rows", {}), b.counts.get("rows", {})
    splits = [(s, rows_a.get(s, 0), rows_b.get(s, 0)) for s in ("train", "test")]
    result = Comparison(a=a, b=b, splits=splits, comparable=key_kind(a) == key_kind(b))
    if not result.comparable:
        return result
    left, right = _keys(a, storage), _keys(b, storage)
    x, y = next(left, None), next(right, None)
    while x is not None or y is not None:
        if y is None or (x is not None and x < y):
            result.removed += 1
            if len(result.removed_samples) < SAMPLES:
                result.removed_samples.append(describe_key(x))
            x = next(left, None)
        elif x is None or y < x:
            result.added += 1
            if len(result.added_samples) < SAMPLES:
                result.added_samples.append(describe_key(y))
            y = next(right, None)
        else:
            result.unchanged += 1
            x, y = next(left, None), next(right, None)
    return result
