"""Deterministic train/test split by prompt content.

A prompt's split is a hash of its normalized conversation and the seed, so the same prompt
imported twice (two rows, two ids) lands in the same split, and the same seed gives the same
split next month. Nothing here depends on ids, order or time.
"""

import hashlib
import unicodedata
from collections.abc import Callable

import orjson

NORMALIZATION = (
    "each message's role and content: Unicode NFC, case-folded, runs of whitespace collapsed "
    "to one space, stripped; the list serialized as JSON"
)


def normalize_conversation(messages: list[dict]) -> bytes:
    """The canonical bytes of a conversation, blind to case and spacing differences."""
    nfc = unicodedata.normalize
    return orjson.dumps(
        [
            [
                str(m.get("role", "")).strip().lower(),
                " ".join(nfc("NFC", str(m.get("content", ""))).casefold().split()),
            ]
            for m in messages
        ]
    )


def splitter(*, seed: int, test_ratio: float) -> Callable[[list[dict]], str]:
    """split_of with the seed and ratio fixed, for calling once per prompt of an export."""
    if test_ratio <= 0:
        return lambda messages: "train"
    prefix = f"{seed}\x00".encode()
    threshold = test_ratio * 2**64
    sha256, from_bytes = hashlib.sha256, int.from_bytes

    def split(messages: list[dict]) -> str:
        digest = sha256(prefix + normalize_conversation(messages)).digest()
        return "test" if from_bytes(digest[:8], "big") < threshold else "train"

    return split


def split_of(messages: list[dict], *, seed: int, test_ratio: float) -> str:
    """'test' for a stable fraction test_ratio of prompts, 'train' for the rest."""
    return splitter(seed=seed, test_ratio=test_ratio)(messages)
