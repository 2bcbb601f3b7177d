"""Deterministic train/test split by prompt content.

A prompt's split is a hash of its normalized conversation and the seed, so the same prompt
imported twice (two rows, two ids) lands in the same split, and the same seed gives the same
split next month. Nothing here depends on ids, order or time.
"""

import hashlib
import unicodedata

import orjson

NORMALIZATION = (
    "each message's role and content: Unicode NFC, case-folded, runs of whitespace collapsed "
    "to one space, stripped; the list serialized as JSON"
)


def normalize_conversation(messages: list[dict]) -> bytes:
    """The canonical bytes of a conversation, blind to case and spacing differences."""
    return orjson.dumps(
        [
            [
                str(m.get("role", "")).strip().lower(),
                " ".join(
                    unicodedata.normalize("NFC", str(m.get("content", ""))).casefold().split()
                ),
            ]
            for m in messages
        ]
    )


def split_of(messages: list[dict], *, seed: int, test_ratio: float) -> str:
    """'test' for a stable fraction test_ratio of prompts, 'train' for the rest."""
    if test_ratio <= 0:
        return "train"
    digest = hashlib.sha256(f"{seed}\x00".encode() + normalize_conversation(messages)).digest()
    return "test" if int.from_bytes(digest[:8], "big") < test_ratio * 2**64 else "train"
