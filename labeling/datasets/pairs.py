"""Turn judgments into preference pairs: votes per judgment, then one row per pair or per vote.

A vote is what one judgment says about one pair of candidates (lo < hi by id): +1 lo is
better, -1 hi is better, 0 a tie, with a strength 0–3. Votes never refer to screen positions:
a judgment stores candidate ids, so the order the trainer saw (recorded in `shown_order`) only
enters as provenance.
"""

from dataclasses import dataclass
from itertools import combinations

from .options import ExportOptions
from .source import (
    C_ID,
    J_ALL_BAD,
    J_ID,
    J_PREFERRED,
    J_RANKING,
    J_SCORES,
    J_SHOWN,
    J_STRENGTH,
    J_TRAINER,
)

Outcomes = dict[tuple[int, int], tuple[int, int]]  # (lo, hi) -> (outcome, strength)


@dataclass(slots=True)
class Pair:
    """One output row's worth of preference: chosen over rejected (or a tie)."""

    lo: int
    hi: int
    chosen: int
    rejected: int
    tie: bool
    strength: float
    margin: float
    n_judgments: int
    agreement: float
    both_bad: bool
    positions: list[int]  # where the chosen response was shown, per agreeing judgment
    judgment_id: int | None = None  # set when every judgment is its own row
    trainer_id: int | None = None


def _groups_pairs(groups: list[list[int]], expansion: str):
    """(a, b) pairs a ranking of tie-groups expands to, as (better-or-equal, other)."""
    if expansion == "all_pairs":
        for i, group in enumerate(groups):
            yield from combinations(group, 2)
            for later in groups[i + 1 :]:
                for a in group:
                    for b in later:
                        yield a, b
    elif expansion == "best_vs_rest":
        if groups:
            yield from combinations(groups[0], 2)
            for later in groups[1:]:
                for a in groups[0]:
                    for b in later:
                        yield a, b
    else:  # adjacent
        for i, group in enumerate(groups):
            yield from combinations(group, 2)
            if i + 1 < len(groups):
                for a in group:
                    for b in groups[i + 1]:
                        yield a, b


def _from_groups(groups: list[list[int]], expansion: str, strength_of) -> Outcomes:
    rank = {c: g for g, group in enumerate(groups) for c in group}
    out: Outcomes = {}
    for a, b in _groups_pairs(groups, expansion):
        lo, hi = (a, b) if a < b else (b, a)
        if rank[a] == rank[b]:
            out[lo, hi] = (0, 0)
        else:
            winner = a if rank[a] < rank[b] else b
            out[lo, hi] = (1 if winner == lo else -1, strength_of(a, b))
    return out


def overall_outcomes(judgment: list, cands: list[int], expansion: str) -> Outcomes:
    """The trainer's own answer: a preferred response and strength, or a ranking."""
    allowed = set(cands)
    ranking = judgment[J_RANKING]
    if ranking is not None:
        groups = [[c for c in g if c in allowed] for g in ranking]
        groups = [g for g in groups if g]
        rank = {c: i for i, g in enumerate(groups) for c in g}
        return _from_groups(groups, expansion, lambda a, b: min(3, abs(rank[a] - rank[b])))
    if len(cands) != 2:
        return {}
    lo, hi = sorted(cands)
    preferred = judgment[J_PREFERRED]
    if preferred is None:
        return {(lo, hi): (0, 0)}
    if preferred not in allowed:
        return {}
    return {(lo, hi): (1 if preferred == lo else -1, judgment[J_STRENGTH])}


def scores_by_dimension(judgment: list) -> dict[str, dict[int, int]]:
    """{dimension key: {candidate id: value}} from a judgment's scores."""
    out: dict[str, dict[int, int]] = {}
    for cid, key, value in judgment[J_SCORES] or ():
        out.setdefault(key, {})[cid] = value
    return out


def dimension_outcomes(scores: dict[int, int], cands: list[int], expansion: str) -> Outcomes:
    """Pairs from one dimension's scores: higher is better, strength = difference capped at 3."""
    scored = [c for c in cands if c in scores]
    values = sorted({scores[c] for c in scored}, reverse=True)
    groups = [sorted(c for c in scored if scores[c] == v) for v in values]
    return _from_groups(groups, expansion, lambda a, b: min(3, abs(scores[a] - scores[b])))


def combined_outcomes(judgment: list, cands: list[int], options: ExportOptions) -> Outcomes:
    """The combination rule on every pair: the primary dimension decides when its scores
    differ by at least the threshold, else the fallback (a dimension or the overall answer)."""
    by_dim = scores_by_dimension(judgment)
    primary = by_dim.get(options.combine_primary, {})
    if options.combine_fallback == "overall":
        fallback = overall_outcomes(judgment, cands, "all_pairs")
    else:
        fallback = dimension_outcomes(by_dim.get(options.combine_fallback, {}), cands, "all_pairs")
    out: Outcomes = {}
    for lo, hi in combinations(sorted(cands), 2):
        if lo in primary and hi in primary:
            diff = primary[lo] - primary[hi]
            if abs(diff) >= options.combine_threshold:
                out[lo, hi] = (1 if diff > 0 else -1, min(3, abs(diff)))
                continue
        if (lo, hi) in fallback:
            out[lo, hi] = fallback[lo, hi]
    return out


def judgment_outcomes(judgment: list, cands: list[int], options: ExportOptions) -> Outcomes:
    if options.preference == "overall":
        return overall_outcomes(judgment, cands, options.expansion)
    if options.preference == "combined":
        return combined_outcomes(judgment, cands, options)
    scores = scores_by_dimension(judgment).get(options.preference, {})
    return dimension_outcomes(scores, cands, options.expansion)


def _position(judgment: list, cid: int) -> int:
    shown = judgment[J_SHOWN]
    return shown.index(cid) if cid in shown else -1


def _single_pairwise(
    a: int, b: int, judgment: list, options: ExportOptions, stats: dict[str, int]
) -> list[Pair] | None:
    """The common case (one pairwise judgment on candidates a and b, overall preference)
    without the vote tally; rows identical to the general path's. None: not this case."""
    if judgment[J_RANKING] is not None:
        return None
    if judgment[J_ALL_BAD] and options.both_bad == "drop":
        stats["judgments_both_bad_dropped"] = stats.get("judgments_both_bad_dropped", 0) + 1
        return []
    lo, hi = (a, b) if a < b else (b, a)
    preferred, strength = judgment[J_PREFERRED], judgment[J_STRENGTH]
    if preferred is None:
        if options.ties != "keep":
            stats["ties_dropped"] = stats.get("ties_dropped", 0) + 1
            return []
        chosen, rejected, tie, strength = lo, hi, True, 0
    elif preferred == lo:
        chosen, rejected, tie = lo, hi, False
    elif preferred == hi:
        chosen, rejected, tie = hi, lo, False
    else:
        return None
    margin = options.margins[strength]
    shown = judgment[J_SHOWN]
    position = shown.index(chosen) if chosen in shown else -1
    # A strength is a whole number: as a float it needs no rounding.
    if options.aggregate == "none":
        return [
            Pair(lo, hi, chosen, rejected, tie, float(strength), float(margin), 1, 1.0,
                 bool(judgment[J_ALL_BAD]), [position], judgment[J_ID], judgment[J_TRAINER])
        ]  # fmt: skip
    return [
        Pair(lo, hi, chosen, rejected, tie, float(strength), round(float(margin), 4),
             1, 1.0, bool(judgment[J_ALL_BAD]), [position])
    ]  # fmt: skip


def item_pairs(
    candidates: list, judgments: list, options: ExportOptions, stats: dict[str, int]
) -> list[Pair]:
    """The pair rows of one item, in a stable order (by pair, then judgment)."""
    if len(judgments) == 1 and len(candidates) == 2 and options.preference == "overall":
        a, b = candidates[0][C_ID], candidates[1][C_ID]
        fast = _single_pairwise(a, b, judgments[0], options, stats)
        if fast is not None:
            return fast
    cands = [c[C_ID] for c in candidates]
    margins = options.margins
    votes: dict[tuple[int, int], list[tuple[int, int, list]]] = {}
    for judgment in judgments:
        if judgment[J_ALL_BAD] and options.both_bad == "drop":
            stats["judgments_both_bad_dropped"] = stats.get("judgments_both_bad_dropped", 0) + 1
            continue
        for pair, (outcome, strength) in judgment_outcomes(judgment, cands, options).items():
            votes.setdefault(pair, []).append((outcome, strength, judgment))
    out: list[Pair] = []
    keep_ties = options.ties == "keep"
    for lo, hi in sorted(votes):
        pair_votes = votes[lo, hi]
        if options.aggregate == "none":
            for outcome, strength, judgment in pair_votes:
                if outcome == 0 and not keep_ties:
                    stats["ties_dropped"] = stats.get("ties_dropped", 0) + 1
                    continue
                chosen, rejected = (lo, hi) if outcome >= 0 else (hi, lo)
                out.append(
                    Pair(
                        lo, hi, chosen, rejected, outcome == 0, float(strength),
                        float(margins[strength]), 1, 1.0, bool(judgment[J_ALL_BAD]),
                        [_position(judgment, chosen)], judgment[J_ID], judgment[J_TRAINER],
                    )
                )  # fmt: skip
            continue
        tally = {1: 0, -1: 0, 0: 0}
        for outcome, _, _ in pair_votes:
            tally[outcome] += 1
        top = max(tally.values())
        leaders = [o for o, n in tally.items() if n == top]
        outcome = leaders[0] if len(leaders) == 1 else 0
        if outcome == 0 and not keep_ties:
            stats["ties_dropped"] = stats.get("ties_dropped", 0) + 1
            continue
        agreeing = [v for v in pair_votes if v[0] == outcome]
        chosen, rejected = (lo, hi) if outcome >= 0 else (hi, lo)
        n = len(pair_votes)
        if agreeing:
            strength = sum(v[1] for v in agreeing) / len(agreeing)
            margin = sum(margins[v[1]] for v in agreeing) / len(agreeing)
        else:
            strength, margin = 0.0, float(margins[0])
        agreement = round(top / n, 4)
        if agreement < options.min_agreement:
            stats["pairs_below_agreement"] = stats.get("pairs_below_agreement", 0) + 1
            continue
        out.append(
            Pair(
                lo, hi, chosen, rejected, outcome == 0, round(strength, 4), round(margin, 4),
                n, agreement, any(v[2][J_ALL_BAD] for v in pair_votes),
                [_position(v[2], chosen) for v in agreeing],
            )
        )  # fmt: skip
    return out
