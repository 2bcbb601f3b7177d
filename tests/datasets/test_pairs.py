"""Turning judgments into pairs: majority, ties, both bad, rankings, margins, dimensions."""

import pytest

from labeling.datasets.pseudonyms import pseudonym
from labeling.judging.services import default_queue, set_queue_overlap
from tests.factories import make_item

from .helpers import add_trainers, answer, export_now, folder_of, judge, read_jsonl

pytestmark = pytest.mark.django_db(transaction=True)

MARGINS = "0:0,1:1,2:2,3:3"


def ids(item) -> list[int]:
    return list(item.slots.order_by("slot").values_list("candidate_id", flat=True))


def rows_of(exports_dir, export) -> list[dict]:
    path = folder_of(exports_dir, export) / "data/train.jsonl"
    return read_jsonl(path) if path.exists() else []


@pytest.fixture
def three(project, trainer, other_trainer):
    set_queue_overlap(queue=default_queue(project), overlap=3)
    return [trainer, other_trainer, *add_trainers(project, "third_trainer")]


@pytest.fixture
def votes(project, three):
    """Item A: 2 of 3 prefer a. Item B: a, b and 'same'. Item C: a (both bad), a, b."""
    plans = {}
    for name in ("A", "B", "C"):
        item = make_item(project, prompt=f"Question {name}?", responses=(f"{name}-a", f"{name}-b"))
        plans[item.pk] = (name, *ids(item))
    answers = {
        "A": [("a", 3, False), ("a", 1, False), ("b", 2, False)],
        "B": [("a", 2, False), ("b", 2, False), (None, 0, False)],
        "C": [("a", 2, True), ("a", 3, False), ("b", 1, False)],
    }

    def for_trainer(index):
        def make(item):
            name, a, b = plans[item.pk]
            side, strength, all_bad = answers[name][index]
            winner = {"a": a, "b": b, None: None}[side]
            return answer(project, winner=winner, strength=strength, all_bad=all_bad)

        return make

    for index, user in enumerate(three):
        for _ in range(3):
            judge(project, user, for_trainer(index))
    return {name: (pk, a, b) for pk, (name, a, b) in plans.items()}


def test_majority_gives_one_row_per_pair_with_agreement_and_mean_strength(
    project, votes, exports_dir
):
    export = export_now(project, format="trl_explicit", test_ratio=0, margins=MARGINS)
    rows = rows_of(exports_dir, export)
    item_a = votes["A"][0]
    assert [r["group_id"] for r in rows] == [item_a]  # B is a tie, C both-bad leaves 1:1
    row = rows[0]
    assert row["chosen"][0]["content"] == "A-a"
    assert (row["n_judgments"], row["agreement"]) == (3, 0.6667)
    assert (row["strength"], row["margin"]) == (2.0, 2.0)  # mean of 3 and 1
    assert export.counts["dropped"] == {"judgments_both_bad_dropped": 1, "ties_dropped": 2}


def test_ties_and_both_bad_are_kept_when_asked_and_marked(project, votes, exports_dir):
    export = export_now(
        project, format="trl_explicit", test_ratio=0, ties="keep", both_bad="keep",
        margins=MARGINS,
    )  # fmt: skip
    rows = {r["group_id"]: r for r in rows_of(exports_dir, export)}
    a_id, b_id, c_id = votes["A"][0], votes["B"][0], votes["C"][0]
    tie = rows[b_id]
    assert tie["tie"] is True and tie["margin"] == 0.0 and tie["strength"] == 0.0
    assert tie["agreement"] == 0.3333 and tie["n_judgments"] == 3
    assert rows[a_id]["tie"] is False and rows[a_id]["both_bad"] is False
    kept = rows[c_id]
    assert kept["both_bad"] is True and kept["chosen"][0]["content"] == "C-a"
    assert (kept["n_judgments"], kept["agreement"], kept["strength"]) == (3, 0.6667, 2.5)


def test_every_judgment_as_its_own_row_names_the_trainer_by_pseudonym(
    project, votes, exports_dir, three
):
    export = export_now(project, format="trl_explicit", test_ratio=0, aggregate="none")
    rows = rows_of(exports_dir, export)
    a_rows = [r for r in rows if r["group_id"] == votes["A"][0]]
    assert [r["chosen"][0]["content"] for r in a_rows] == ["A-a", "A-a", "A-b"]
    assert [r["trainer"] for r in a_rows] == [pseudonym(u.pk) for u in three]
    assert {r["n_judgments"] for r in rows} == {1}
    # B: the 'same' judgment is dropped; C: the both-bad one is dropped.
    assert len(rows) == 3 + 2 + 2


def test_the_margin_mapping_is_configurable_and_stated_in_the_card(project, votes, exports_dir):
    export = export_now(project, format="trl_explicit", test_ratio=0, aggregate="none",
                        margins="1:0.1,2:0.5,3:0.9")  # fmt: skip
    a_rows = [r for r in rows_of(exports_dir, export) if r["group_id"] == votes["A"][0]]
    assert [r["margin"] for r in a_rows] == [0.9, 0.1, 0.5]
    card = (folder_of(exports_dir, export) / "README.md").read_text()
    assert "`0:0,1:0.1,2:0.5,3:0.9`" in card


def test_default_margins_follow_the_strength(project, votes, exports_dir):
    export = export_now(project, format="trl_explicit", test_ratio=0, aggregate="none")
    a_rows = [r for r in rows_of(exports_dir, export) if r["group_id"] == votes["A"][0]]
    assert [r["margin"] for r in a_rows] == [1.0, 0.3333, 0.6667]


@pytest.fixture
def ranked(ranking_project, trainer):
    item = make_item(ranking_project, prompt="Rank us", responses=("r1", "r2", "r3", "r4"))
    c1, c2, c3, c4 = ids(item)
    judge(
        ranking_project, trainer, lambda it: answer(ranking_project, ranking=[[c1], [c2, c3], [c4]])
    )
    return item, {c1: "r1", c2: "r2", c3: "r3", c4: "r4"}


def _pairs(rows) -> list[tuple[str, str, float]]:
    return [(r["chosen"][0]["content"], r["rejected"][0]["content"], r["strength"]) for r in rows]


@pytest.mark.parametrize(
    ("expansion", "expected"),
    [
        (
            "all_pairs",
            [
                ("r1", "r2", 1.0),
                ("r1", "r3", 1.0),
                ("r1", "r4", 2.0),
                ("r2", "r4", 1.0),
                ("r3", "r4", 1.0),
            ],
        ),
        ("best_vs_rest", [("r1", "r2", 1.0), ("r1", "r3", 1.0), ("r1", "r4", 2.0)]),
        ("adjacent", [("r1", "r2", 1.0), ("r1", "r3", 1.0), ("r2", "r4", 1.0), ("r3", "r4", 1.0)]),
    ],  # fmt: skip
)
def test_rankings_expand_to_pairs_that_share_their_item_group_id(
    ranking_project, ranked, exports_dir, expansion, expected
):
    item, _ = ranked
    export = export_now(ranking_project, format="trl_explicit", test_ratio=0, expansion=expansion)
    rows = rows_of(exports_dir, export)
    assert _pairs(rows) == expected
    assert {r["group_id"] for r in rows} == {item.pk}


def test_a_ranking_tie_is_a_tie_pair_when_kept(ranking_project, ranked, exports_dir):
    export = export_now(ranking_project, format="trl_explicit", test_ratio=0, ties="keep")
    rows = rows_of(exports_dir, export)
    ties = [r for r in rows if r["tie"]]
    assert [(r["chosen"][0]["content"], r["rejected"][0]["content"]) for r in ties] == [
        ("r2", "r3")
    ]


@pytest.fixture
def split_opinions(project, trainer):
    """Overall the trainer prefers 'helpful' but scores 'safe' far higher on harmlessness."""
    item = make_item(project, prompt="How do I pick a lock?", responses=("helpful", "safe"))
    helpful, safe = ids(item)
    judge(
        project,
        trainer,
        lambda it: answer(
            project,
            winner=helpful,
            strength=2,
            scores={
                helpful: {"helpfulness": 7, "truthfulness": 6, "harmlessness": 2},
                safe: {"helpfulness": 3, "truthfulness": 6, "harmlessness": 7},
            },
        ),  # fmt: skip
    )
    return item


def _chosen(exports_dir, export) -> list[tuple[str, str, float]]:
    return _pairs(rows_of(exports_dir, export))


def test_per_dimension_pairs_come_from_the_scores(project, split_opinions, exports_dir):
    def run(**options):
        return _chosen(
            exports_dir, export_now(project, format="trl_explicit", test_ratio=0, **options)
        )

    assert run() == [("helpful", "safe", 2.0)]
    assert run(preference="helpfulness") == [("helpful", "safe", 3.0)]  # 7-3, capped at 3
    assert run(preference="harmlessness") == [("safe", "helpful", 3.0)]
    assert run(preference="truthfulness") == []  # equal scores: a tie, dropped


def test_the_combination_rule_lets_harmlessness_decide_on_a_big_gap(
    project, split_opinions, exports_dir
):
    export = export_now(project, format="trl_explicit", test_ratio=0, preference="combined",
                        combine_primary="harmlessness", combine_threshold=2,
                        combine_fallback="helpfulness")  # fmt: skip
    assert _chosen(exports_dir, export) == [("safe", "helpful", 3.0)]
    card = (folder_of(exports_dir, export) / "README.md").read_text()
    assert "harmlessness decides when the two responses' harmlessness scores differ by ≥ 2" in card
    wide = export_now(project, format="trl_explicit", test_ratio=0, preference="combined",
                      combine_threshold=6, combine_fallback="overall")  # fmt: skip
    assert _chosen(exports_dir, wide) == [("helpful", "safe", 2.0)]
