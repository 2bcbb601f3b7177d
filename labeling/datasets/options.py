"""What a researcher can ask of an export, as one validated, canonical value.

The options that shape the data are written into the card (and so decide its bytes); the
operational ones (batch size, throttle) are not, so they never change a dataset.
"""

from dataclasses import asdict, dataclass, field, fields
from datetime import date

SCHEMA_VERSION = 1

# format key -> (label, file types, one line for the form and the card)
FORMATS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "trl_explicit": (
        "TRL preference, explicit prompt",
        ("jsonl", "parquet"),
        "prompt / chosen / rejected as chat messages, plus a float margin (DPO trainers).",
    ),
    "trl_implicit": (
        "TRL preference, implicit prompt",
        ("jsonl", "parquet"),
        "chosen / rejected each hold the whole conversation (reward-model training).",
    ),
    "trl_kto": (
        "TRL unpaired (KTO)",
        ("jsonl", "parquet"),
        "prompt / completion / label from per-response scores and a threshold.",
    ),
    "openai": (
        "OpenAI preference fine-tuning",
        ("jsonl", "parquet"),
        "input.messages / preferred_output / non_preferred_output, nothing else.",
    ),
    "hh": (
        "Anthropic HH text",
        ("jsonl", "parquet", "csv"),
        "chosen / rejected transcripts with \\n\\nHuman: and \\n\\nAssistant: turns.",
    ),
    "ratings": (
        "Per-response ratings",
        ("jsonl", "parquet", "csv"),
        "One row per (prompt, response): mean score per dimension, ratings, flags, model.",
    ),
    "raw": (
        "Raw judgments",
        ("jsonl", "parquet"),
        "One row per judgment with everything stored; trainers pseudonymized.",
    ),
}
PAIR_FORMATS = frozenset({"trl_explicit", "trl_implicit", "openai", "hh"})
TIE_FORMATS = frozenset({"trl_explicit", "trl_implicit"})  # the others have no slot for a tie
FILE_TYPES = ("jsonl", "parquet", "csv")
EXPANSIONS = {
    "all_pairs": "all pairs (InstructGPT: K·(K−1)/2 per ranking)",
    "best_vs_rest": "best vs rest (each top-ranked response against every other)",
    "adjacent": "adjacent (each rank against the next one)",
}
AGGREGATES = {
    "majority": "one row per (item, pair): majority vote, mean strength",
    "none": "one row per judgment",
}
FLAG_EXCLUSIONS = {"none": "keep flagged items", "harm": "any harm flag", "any": "any flag"}
# Llama 2's "small" margins: much better 1, better 2/3, slightly better 1/3, same 0.
DEFAULT_MARGINS = {0: 0.0, 1: 0.3333, 2: 0.6667, 3: 1.0}


class OptionsError(ValueError):
    """Options that cannot make a dataset; the message says which and why."""


@dataclass(frozen=True)
class ExportOptions:
    format: str = "trl_explicit"
    file_type: str = "jsonl"
    # Which preference: overall, one rubric dimension's key, or "combined" (the rule below).
    preference: str = "overall"
    combine_primary: str = "harmlessness"
    combine_threshold: int = 2
    combine_fallback: str = "helpfulness"
    expansion: str = "all_pairs"
    aggregate: str = "majority"
    ties: str = "drop"
    both_bad: str = "drop"
    margins: dict[int, float] = field(default_factory=lambda: dict(DEFAULT_MARGINS))
    kto_dimension: str = "mean"
    kto_threshold: float = 5.0
    min_judgments: int = 1
    min_agreement: float = 0.0
    exclude_skipped: bool = False
    exclude_flagged: str = "none"
    min_gold_accuracy: float | None = None
    date_from: str | None = None
    date_to: str | None = None
    guideline_versions: tuple[int, ...] = ()
    models: tuple[str, ...] = ()
    include_gold: bool = False
    include_late: bool = False
    provenance: bool = False
    redact_pii: bool = False
    test_ratio: float = 0.1
    seed: int = 0
    # Operational: how the job runs, never what it writes.
    batch_size: int = 1000
    throttle_ms: int = 0

    OPERATIONAL = ("batch_size", "throttle_ms")

    def to_dict(self) -> dict:
        data = asdict(self)
        data["margins"] = {str(k): float(v) for k, v in sorted(self.margins.items())}
        data["guideline_versions"] = list(self.guideline_versions)
        data["models"] = list(self.models)
        return data

    def data_options(self) -> dict:
        """The options that shape the data (the card shows exactly these)."""
        return {k: v for k, v in self.to_dict().items() if k not in self.OPERATIONAL}

    @classmethod
    def from_dict(cls, data: dict, *, dimension_keys: list[str] | None = None) -> "ExportOptions":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise OptionsError(f"unknown option(s): {', '.join(sorted(unknown))}")
        values = dict(data)
        if "margins" in values:
            values["margins"] = parse_margins(values["margins"])
        for name in ("guideline_versions", "models"):
            if name in values:
                values[name] = tuple(values[name] or ())
        options = cls(**values)
        options.check(dimension_keys=dimension_keys)
        return options

    def check(self, *, dimension_keys: list[str] | None = None) -> None:
        """Raise OptionsError for a combination that cannot make a dataset."""
        if self.format not in FORMATS:
            raise OptionsError(f"unknown format {self.format!r}")
        if self.file_type not in FORMATS[self.format][1]:
            allowed = ", ".join(FORMATS[self.format][1])
            raise OptionsError(f"{self.format} is written as {allowed}, not {self.file_type}")
        dims = dimension_keys
        choices = {
            "expansion": EXPANSIONS,
            "aggregate": AGGREGATES,
            "exclude_flagged": FLAG_EXCLUSIONS,
            "ties": ("drop", "keep"),
            "both_bad": ("drop", "keep"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise OptionsError(f"{name} must be one of {', '.join(allowed)}")
        if dims is not None:
            if self.preference not in ("overall", "combined", *dims):
                raise OptionsError(f"preference must be overall, combined or one of {dims}")
            if self.preference == "combined":
                if self.combine_primary not in dims:
                    raise OptionsError(f"combine_primary must be one of {dims}")
                if self.combine_fallback not in ("overall", *dims):
                    raise OptionsError(f"combine_fallback must be overall or one of {dims}")
            if self.kto_dimension not in ("mean", *dims):
                raise OptionsError(f"kto_dimension must be mean or one of {dims}")
        if self.ties == "keep" and self.format not in TIE_FORMATS:
            raise OptionsError(f"{self.format} has no way to say 'tie': ties must be dropped")
        if not 0.0 <= self.test_ratio <= 0.9:
            raise OptionsError("test_ratio must be between 0 and 0.9")
        if not 0.0 <= self.min_agreement <= 1.0:
            raise OptionsError("min_agreement must be between 0 and 1")
        if self.min_gold_accuracy is not None and not 0.0 <= self.min_gold_accuracy <= 1.0:
            raise OptionsError("min_gold_accuracy must be between 0 and 1")
        if self.min_judgments < 1 or self.combine_threshold < 1:
            raise OptionsError("min_judgments and combine_threshold must be at least 1")
        if not 1 <= self.batch_size <= 100_000 or self.throttle_ms < 0:
            raise OptionsError("batch_size must be 1..100000 and throttle_ms not negative")
        for name in ("date_from", "date_to"):
            value = getattr(self, name)
            if value is not None:
                try:
                    date.fromisoformat(value)
                except ValueError as exc:
                    raise OptionsError(f"{name} must be a date (YYYY-MM-DD)") from exc
        if set(self.margins) != {0, 1, 2, 3}:
            raise OptionsError("margins must map each strength 0, 1, 2, 3 to a number")

    @property
    def is_pairs(self) -> bool:
        return self.format in PAIR_FORMATS


def parse_margins(value) -> dict[int, float]:
    """'0:0,1:0.33,2:0.67,3:1' or {"1": 0.33, …} -> {0: 0.0, 1: 0.33, …}."""
    if isinstance(value, str):
        try:
            pairs = [part.split(":") for part in value.split(",") if part.strip()]
            value = {k.strip(): v.strip() for k, v in pairs}
        except ValueError as exc:
            raise OptionsError("margins look like 0:0,1:0.33,2:0.67,3:1") from exc
    try:
        margins = {int(k): float(v) for k, v in dict(value).items()}
    except (TypeError, ValueError) as exc:
        raise OptionsError("margins look like 0:0,1:0.33,2:0.67,3:1") from exc
    margins.setdefault(0, 0.0)
    return margins


def margins_text(margins: dict[int, float]) -> str:
    return ",".join(f"{k}:{v:g}" for k, v in sorted(margins.items()))
