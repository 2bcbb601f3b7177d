"""Pairing strategies: which candidates of a prompt become items."""

import random

from labeling.generation.pairing import (
    ALL_PAIRS,
    K_WAY,
    MODEL_PAIRS,
    RANDOM_PAIRS,
    Choice,
    plan_items,
)

CHOICES = [
    Choice(1, "a", "Paris."),
    Choice(2, "a", "It is Paris."),
    Choice(3, "b", "Lyon."),
    Choice(4, "b", "  Paris.  "),  # identical to 1 up to whitespace
    Choice(5, "c", ""),  # empty
    Choice(6, "c", "Marseille."),
]


def plan(strategy: str, **kw) -> list[list[int]]:
    return plan_items(
        choices=CHOICES,
        strategy=strategy,
        existing=kw.pop("existing", set()),
        rng=random.Random(3),
        **kw,
    )


def test_all_pairs_skips_empty_and_identical_responses():
    pairs = plan(ALL_PAIRS)
    assert {frozenset(p) for p in pairs} == {
        frozenset(p) for p in [(1, 2), (1, 3), (1, 6), (2, 3), (2, 6), (3, 6)]
    }


def test_random_pairs_makes_n_distinct_pairs_and_tops_up_later():
    pairs = plan(RANDOM_PAIRS, n=2)
    assert len(pairs) == 2 and len({frozenset(p) for p in pairs}) == 2
    existing = {frozenset(p) for p in pairs}
    assert len(plan(RANDOM_PAIRS, n=3, existing=existing)) == 1


def test_model_pairs_makes_one_pair_per_pair_of_models():
    pairs = plan(MODEL_PAIRS)
    assert {frozenset(p) for p in pairs} == {frozenset(p) for p in [(1, 3), (1, 6), (3, 6)]}


def test_k_way_puts_all_usable_candidates_in_one_item_once():
    (item,) = plan(K_WAY)
    assert sorted(item) == [1, 2, 3, 6]
    assert plan(K_WAY, existing={frozenset(item)}) == []
    assert len(plan(K_WAY, max_size=3)[0]) == 3


def test_slots_are_shuffled():
    orders = {
        tuple(
            plan_items(choices=CHOICES[:3], strategy=K_WAY, existing=set(), rng=random.Random(s))[0]
        )
        for s in range(20)
    }
    assert len(orders) > 1


def test_fewer_than_two_usable_candidates_make_no_item():
    assert (
        plan_items(
            choices=[Choice(1, "a", "x"), Choice(2, "b", "x")], strategy=ALL_PAIRS, existing=set()
        )
        == []
    )
