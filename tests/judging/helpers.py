"""Build a valid POST body for a judgment, phrased the way a trainer answers."""

from labeling.judging.models import Assignment


def answer_for(
    assignment: Assignment,
    *,
    winner: int | None = None,
    strength: int = 2,
    score: int = 5,
    ranks: dict[int, int] | None = None,
    flags: dict[int, list[str]] | None = None,
    **extra,
) -> dict:
    """Scores for every response and dimension, plus the overall answer.

    `winner` is a candidate id (pairs; None means "about the same"); `ranks` maps candidate
    ids to ranks (rankings).
    """
    project = assignment.item.project
    data: dict = {"elapsed_ms": "4200", "rationale": ""}
    for cid in assignment.display_order:
        for dim in project.dimensions.all():
            data[f"score-{cid}-{dim.key}"] = str(score)
        data[f"flags-{cid}"] = (flags or {}).get(cid, [])
    if project.mode == "pairwise":
        data["preference"] = "same" if winner is None else f"{winner}:{strength}"
    else:
        for cid, rank in (ranks or {}).items():
            data[f"rank-{cid}"] = str(rank)
    data.update(extra)
    return data
