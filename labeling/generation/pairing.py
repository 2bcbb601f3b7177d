"""Which candidates of a prompt go together into items, by the job's pairing strategy.

Pure functions over (id, group, text) triples: the service fetches rows and writes items.
Empty responses and duplicates of an earlier response are never paired; the order within a
returned group is random, so which model sits in which slot is random too.
"""

import itertools
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

ALL_PAIRS = "all_pairs"
RANDOM_PAIRS = "random_pairs"
MODEL_PAIRS = "model_pairs"
K_WAY = "k_way"


@dataclass(frozen=True)
class Choice:
    id: int
    group: str  # which model made it: endpoint and reported model name
    text: str


def usable(choices: Iterable[Choice]) -> list[Choice]:
    """Drop empty responses and any response identical (up to whitespace) to an earlier one."""
    seen: set[str] = set()
    out = []
    for choice in sorted(choices, key=lambda c: c.id):
        norm = " ".join(choice.text.split())
        if not norm or norm in seen:
            continue
        seen.add(norm)
        out.append(choice)
    return out


def plan_items(
    *,
    choices: Sequence[Choice],
    strategy: str,
    existing: set[frozenset[int]],
    n: int = 1,
    max_size: int = 9,
    rng: random.Random | None = None,
) -> list[list[int]]:
    """Candidate-id groups for new items, each shuffled; skips groups already in `existing`."""
    rng = rng or random.Random()
    pool = usable(choices)
    if len(pool) < 2:
        return []
    if strategy == K_WAY:
        groups = [rng.sample(pool, min(len(pool), max_size))]
        if any(len(g) > 2 for g in existing):  # one K-way item per prompt, ever
            groups = []
    elif strategy == MODEL_PAIRS:
        first_by_group: dict[str, Choice] = {}
        for choice in pool:
            first_by_group.setdefault(choice.group, choice)
        groups = [list(pair) for pair in itertools.combinations(first_by_group.values(), 2)]
    elif strategy == RANDOM_PAIRS:
        pairs = [list(p) for p in itertools.combinations(pool, 2)]
        pairs = [p for p in pairs if frozenset(c.id for c in p) not in existing]
        have = sum(1 for g in existing if len(g) == 2)
        groups = rng.sample(pairs, max(0, min(len(pairs), n - have)))
    else:
        groups = [list(p) for p in itertools.combinations(pool, 2)]
    out = []
    for group in groups:
        ids = frozenset(c.id for c in group)
        if ids in existing:
            continue
        existing.add(ids)
        order = [c.id for c in group]
        rng.shuffle(order)
        out.append(order)
    return out
