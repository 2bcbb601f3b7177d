"""One module per concern would scatter the formats; here each is a small class that turns the
rows of one prompt (its items, candidates and judgments) into output rows and declares its
columns (the Parquet schema, documented in docs/exports.md).

Every row comes with a key: zero-padded ids that sort in output order, so two exports can be
compared in one streaming pass.
"""

from datetime import datetime

import orjson
import pyarrow as pa

from .options import ExportOptions
from .pairs import Pair, item_pairs, scores_by_dimension
from .pseudonyms import pseudonym
from .source import (
    C_ID,
    C_META,
    C_MODEL,
    C_TEXT,
    J_ALL_BAD,
    J_COUNTS,
    J_CREATED,
    J_FLAGS,
    J_ID,
    J_PREFERRED,
    J_RANKING,
    J_RATIONALE,
    J_SCORES,
    J_SHOWN,
    J_STRENGTH,
    J_TIME_MS,
    J_TRAINER,
    J_VERSION,
    ItemRow,
)

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
MESSAGES = pa.list_(MESSAGE)
Columns = list[tuple[str, pa.DataType]]
Row = tuple[str, dict]  # (key, row)


def clean_messages(messages: list[dict]) -> list[dict]:
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def assistant(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def metadata_json(meta) -> str:
    return orjson.dumps(meta or {}, option=orjson.OPT_SORT_KEYS).decode()


class Format:
    name = ""

    def __init__(self, options: ExportOptions, dimensions: list[str], stats: dict) -> None:
        self.options = options
        self.dimensions = dimensions
        self.stats = stats

    def columns(self) -> Columns:
        raise NotImplementedError

    def rows(self, prompt_id: int, messages: list[dict], items: list[ItemRow]) -> list[Row]:
        raise NotImplementedError


class PairFormat(Format):
    """Formats with one row per preference pair."""

    def __init__(self, options: ExportOptions, dimensions: list[str], stats: dict) -> None:
        super().__init__(options, dimensions, stats)
        # No optional column (the common case): decided once instead of once per row.
        o = options
        self.plain = (o.ties, o.both_bad, o.aggregate, o.provenance) == (
            "drop",
            "drop",
            "majority",
            False,
        )

    def pair_row(
        self, messages: list[dict], chosen: list, rejected: list, pair: Pair, item_id: int
    ) -> dict:
        raise NotImplementedError

    def extra_columns(self) -> Columns:
        o = self.options
        cols: Columns = [
            ("margin", pa.float64()),
            ("strength", pa.float64()),
            ("group_id", pa.int64()),
            ("n_judgments", pa.int64()),
            ("agreement", pa.float64()),
        ]
        if o.ties == "keep":
            cols.append(("tie", pa.bool_()))
        if o.both_bad == "keep":
            cols.append(("both_bad", pa.bool_()))
        if o.aggregate == "none":
            cols.append(("trainer", pa.string()))
        if o.provenance:
            cols += [
                ("chosen_model", pa.string()),
                ("rejected_model", pa.string()),
                ("chosen_generation", pa.string()),
                ("rejected_generation", pa.string()),
                ("chosen_positions", pa.list_(pa.int64())),
            ]
        return cols

    def extras(self, row: dict, item_id: int, chosen: list, rejected: list, pair: Pair) -> dict:
        o = self.options
        row["margin"] = pair.margin
        row["strength"] = pair.strength
        row["group_id"] = item_id
        row["n_judgments"] = pair.n_judgments
        row["agreement"] = pair.agreement
        if self.plain:
            return row
        if o.ties == "keep":
            row["tie"] = pair.tie
        if o.both_bad == "keep":
            row["both_bad"] = pair.both_bad
        if o.aggregate == "none":
            row["trainer"] = pseudonym(pair.trainer_id)
        if o.provenance:
            row["chosen_model"] = chosen[C_MODEL]
            row["rejected_model"] = rejected[C_MODEL]
            row["chosen_generation"] = metadata_json(chosen[C_META])
            row["rejected_generation"] = metadata_json(rejected[C_META])
            row["chosen_positions"] = pair.positions
        return row

    def rows(self, prompt_id: int, messages: list[dict], items: list[ItemRow]) -> list[Row]:
        out: list[Row] = []
        options, stats, pair_row = self.options, self.stats, self.pair_row
        allowed = set(options.models)
        for item_id, _, _, _, candidates, judgments in items:
            if allowed:
                kept = [c for c in candidates if c[C_MODEL] in allowed]
                if len(kept) < len(candidates):
                    stats["candidates_model_filtered"] = (
                        stats.get("candidates_model_filtered", 0) + len(candidates) - len(kept)
                    )
                candidates = kept
            pairs = item_pairs(candidates, judgments, options, stats)
            if not pairs:
                continue
            by_id = {c[C_ID]: c for c in candidates}
            prefix = f"{prompt_id:012d} {item_id:012d} "
            for pair in pairs:
                key = f"{prefix}{pair.lo:012d} {pair.hi:012d}"
                if pair.judgment_id is not None:
                    key += f" {pair.judgment_id:012d}"
                key += " =" if pair.tie else f" {pair.chosen}>{pair.rejected}"
                chosen, rejected = by_id[pair.chosen], by_id[pair.rejected]
                out.append((key, pair_row(messages, chosen, rejected, pair, item_id)))
        return out


class TrlExplicit(PairFormat):
    name = "trl_explicit"

    def columns(self) -> Columns:
        base = [("prompt", MESSAGES), ("chosen", MESSAGES), ("rejected", MESSAGES)]
        return base + self.extra_columns()

    def pair_row(self, messages, chosen, rejected, pair, item_id):
        row = {
            "prompt": messages,
            "chosen": assistant(chosen[C_TEXT]),
            "rejected": assistant(rejected[C_TEXT]),
        }
        return self.extras(row, item_id, chosen, rejected, pair)


class TrlImplicit(PairFormat):
    name = "trl_implicit"

    def columns(self) -> Columns:
        return [("chosen", MESSAGES), ("rejected", MESSAGES)] + self.extra_columns()

    def pair_row(self, messages, chosen, rejected, pair, item_id):
        row = {
            "chosen": messages + assistant(chosen[C_TEXT]),
            "rejected": messages + assistant(rejected[C_TEXT]),
        }
        return self.extras(row, item_id, chosen, rejected, pair)


class OpenAI(PairFormat):
    """Exactly the three documented fields: hosted fine-tuning rejects anything else."""

    name = "openai"

    def columns(self) -> Columns:
        return [
            ("input", pa.struct([("messages", MESSAGES)])),
            ("preferred_output", MESSAGES),
            ("non_preferred_output", MESSAGES),
        ]

    def pair_row(self, messages, chosen, rejected, pair, item_id):
        return {
            "input": {"messages": messages},
            "preferred_output": assistant(chosen[C_TEXT]),
            "non_preferred_output": assistant(rejected[C_TEXT]),
        }


HH_ROLES = {"user": "\n\nHuman: ", "assistant": "\n\nAssistant: "}


def hh_transcript(messages: list[dict]) -> str:
    """The conversation as HH text; system messages have no slot in it and are left out."""
    return "".join(HH_ROLES[m["role"]] + m["content"] for m in messages if m["role"] in HH_ROLES)


class Anthropic(PairFormat):
    name = "hh"

    def columns(self) -> Columns:
        return [("chosen", pa.string()), ("rejected", pa.string())] + self.extra_columns()

    def pair_row(self, messages, chosen, rejected, pair, item_id):
        prefix = hh_transcript(messages) + HH_ROLES["assistant"]
        row = {"chosen": prefix + chosen[C_TEXT], "rejected": prefix + rejected[C_TEXT]}
        return self.extras(row, item_id, chosen, rejected, pair)


class CandidateFormat(Format):
    """Formats with one row per (prompt, response), or per (judgment, response)."""

    def candidate_rows(self, prompt_id, messages, cand, judgments) -> list[Row]:
        raise NotImplementedError

    def rows(self, prompt_id: int, messages: list[dict], items: list[ItemRow]) -> list[Row]:
        # A response can sit in several items of its prompt: gather them all first.
        cands: dict[int, list] = {}
        judged: dict[int, dict[int, list]] = {}
        allowed = set(self.options.models)
        for _, _, _, _, candidates, judgments in items:
            for c in candidates:
                if allowed and c[C_MODEL] not in allowed:
                    continue
                cands[c[C_ID]] = c
                for j in judgments:
                    judged.setdefault(c[C_ID], {})[j[J_ID]] = j
        out: list[Row] = []
        for cid in sorted(cands):
            js = [judged[cid][k] for k in sorted(judged.get(cid, {}))]
            out += self.candidate_rows(prompt_id, messages, cands[cid], js)
        return out


def _mean(values: list[int]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


class Kto(CandidateFormat):
    name = "trl_kto"

    def columns(self) -> Columns:
        cols: Columns = [
            ("prompt", MESSAGES),
            ("completion", MESSAGES),
            ("label", pa.bool_()),
            ("score", pa.float64()),
            ("n_ratings", pa.int64()),
            ("prompt_id", pa.int64()),
            ("candidate_id", pa.int64()),
        ]
        if self.options.aggregate == "none":
            cols.append(("trainer", pa.string()))
        if self.options.provenance:
            cols += [("model", pa.string()), ("generation", pa.string())]
        return cols

    def _score(self, judgment: list, cid: int) -> float | None:
        by_dim = scores_by_dimension(judgment)
        if self.options.kto_dimension == "mean":
            values = [d[cid] for d in by_dim.values() if cid in d]
            return sum(values) / len(values) if values else None
        return by_dim.get(self.options.kto_dimension, {}).get(cid)

    def _row(self, prompt_id, messages, cand, score: float, n: int, trainer) -> dict:
        row = {
            "prompt": messages,
            "completion": assistant(cand[C_TEXT]),
            "label": score >= self.options.kto_threshold,
            "score": round(score, 4),
            "n_ratings": n,
            "prompt_id": prompt_id,
            "candidate_id": cand[C_ID],
        }
        if trainer is not None:
            row["trainer"] = pseudonym(trainer)
        if self.options.provenance:
            row["model"] = cand[C_MODEL]
            row["generation"] = metadata_json(cand[C_META])
        return row

    def candidate_rows(self, prompt_id, messages, cand, judgments) -> list[Row]:
        cid = cand[C_ID]
        scored = [(j, s) for j in judgments if (s := self._score(j, cid)) is not None]
        base = f"{prompt_id:012d} {cid:012d}"
        if not scored:
            self.stats["responses_unscored"] = self.stats.get("responses_unscored", 0) + 1
            return []
        if self.options.aggregate == "none":
            return [
                (f"{base} {j[J_ID]:012d}", self._row(prompt_id, messages, cand, s, 1, j[J_TRAINER]))
                for j, s in scored
            ]
        mean = sum(s for _, s in scored) / len(scored)
        return [(base, self._row(prompt_id, messages, cand, mean, len(scored), None))]


class Ratings(CandidateFormat):
    name = "ratings"

    def columns(self) -> Columns:
        cols: Columns = [
            ("prompt", MESSAGES),
            ("response", pa.string()),
            ("prompt_id", pa.int64()),
            ("candidate_id", pa.int64()),
            ("model", pa.string()),
        ]
        cols += [(key, pa.float64()) for key in self.dimensions]
        cols += [("n_ratings", pa.int64()), ("flags", pa.list_(pa.string()))]
        if self.options.provenance:
            cols.append(("generation", pa.string()))
        return cols

    def candidate_rows(self, prompt_id, messages, cand, judgments) -> list[Row]:
        cid = cand[C_ID]
        values: dict[str, list[int]] = {key: [] for key in self.dimensions}
        n = 0
        flags: set[str] = set()
        for j in judgments:
            rated = False
            for c, key, value in j[J_SCORES] or ():
                if c == cid and key in values:
                    values[key].append(value)
                    rated = True
            n += rated
            flags.update(k for c, k in j[J_FLAGS] or () if c == cid)
        row = {
            "prompt": messages,
            "response": cand[C_TEXT],
            "prompt_id": prompt_id,
            "candidate_id": cid,
            "model": cand[C_MODEL],
        }
        for key in self.dimensions:
            row[key] = _mean(values[key])
        row["n_ratings"] = n
        row["flags"] = sorted(flags)
        if self.options.provenance:
            row["generation"] = metadata_json(cand[C_META])
        return [(f"{prompt_id:012d} {cid:012d}", row)]


def _iso(value) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.isoformat() if isinstance(value, datetime) else str(value)


class Raw(Format):
    """Everything stored about each judgment, for researchers who aggregate themselves."""

    name = "raw"

    def columns(self) -> Columns:
        return [
            ("judgment_id", pa.int64()),
            ("group_id", pa.int64()),
            ("prompt_id", pa.int64()),
            ("prompt", MESSAGES),
            (
                "candidates",
                pa.list_(
                    pa.struct(
                        [
                            ("id", pa.int64()),
                            ("text", pa.string()),
                            ("model", pa.string()),
                            ("generation", pa.string()),
                        ]
                    )
                ),
            ),
            ("shown_order", pa.list_(pa.int64())),
            ("preferred", pa.int64()),
            ("strength", pa.int64()),
            ("ranking", pa.list_(pa.list_(pa.int64()))),
            ("all_bad", pa.bool_()),
            (
                "scores",
                pa.list_(
                    pa.struct(
                        [
                            ("candidate", pa.int64()),
                            ("dimension", pa.string()),
                            ("value", pa.int64()),
                        ]
                    )
                ),
            ),
            ("flags", pa.list_(pa.struct([("candidate", pa.int64()), ("key", pa.string())]))),
            ("rationale", pa.string()),
            ("time_spent_ms", pa.int64()),
            ("guideline_version", pa.int64()),
            ("trainer", pa.string()),
            ("created_at", pa.string()),
            ("late", pa.bool_()),
            ("is_gold", pa.bool_()),
        ]

    def rows(self, prompt_id: int, messages: list[dict], items: list[ItemRow]) -> list[Row]:
        out: list[Row] = []
        for item_id, _, _, is_gold, candidates, judgments in items:
            cands = [
                {"id": c[C_ID], "text": c[C_TEXT], "model": c[C_MODEL],
                 "generation": metadata_json(c[C_META])}
                for c in candidates
            ]  # fmt: skip
            for j in judgments:
                row = {
                    "judgment_id": j[J_ID],
                    "group_id": item_id,
                    "prompt_id": prompt_id,
                    "prompt": messages,
                    "candidates": cands,
                    "shown_order": j[J_SHOWN],
                    "preferred": j[J_PREFERRED],
                    "strength": j[J_STRENGTH],
                    "ranking": j[J_RANKING],
                    "all_bad": bool(j[J_ALL_BAD]),
                    "scores": [
                        {"candidate": c, "dimension": k, "value": v}
                        for c, k, v in j[J_SCORES] or ()
                    ],
                    "flags": [{"candidate": c, "key": k} for c, k in j[J_FLAGS] or ()],
                    "rationale": j[J_RATIONALE] or "",
                    "time_spent_ms": j[J_TIME_MS],
                    "guideline_version": j[J_VERSION],
                    "trainer": pseudonym(j[J_TRAINER]),
                    "created_at": _iso(j[J_CREATED]),
                    "late": not j[J_COUNTS],
                    "is_gold": bool(is_gold),
                }
                out.append((f"{prompt_id:012d} {item_id:012d} {j[J_ID]:012d}", row))
        return out


FORMAT_CLASSES: dict[str, type[Format]] = {
    cls.name: cls for cls in (TrlExplicit, TrlImplicit, Kto, OpenAI, Anthropic, Ratings, Raw)
}


def make_format(options: ExportOptions, dimensions: list[str], stats: dict) -> Format:
    return FORMAT_CLASSES[options.format](options, dimensions, stats)
