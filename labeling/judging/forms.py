"""The judgment form: field names carry candidate ids, so positions never reach storage.

Field names: `score-<candidate id>-<dimension key>`, `preference` (`<candidate id>:<strength>`
or `same`) for pairs, `rank-<candidate id>` for rankings, `flags-<candidate id>`,
`all_bad`, `rationale`, `elapsed_ms`.
"""

from django import forms
from django.utils import timezone

from labeling.projects.models import Project
from labeling.projects.taxonomy import HARM_FLAG_KEYS, SCALE_MAX, SCALE_MIN

from .models import Assignment
from .services import JudgmentInput

SCALE_CHOICES = [(str(v), str(v)) for v in range(SCALE_MIN, SCALE_MAX + 1)]
SAME = "same"
MAX_ELAPSED_MS = 6 * 60 * 60 * 1000
MAX_RATIONALE = 5000

SKIP_REASONS = [
    ("cannot_judge", "I can't judge this (outside my expertise)"),
    ("broken", "The item is broken (empty, garbled, wrong language)"),
    ("harmful", "I don't want to read this content"),
    ("other", "Other"),
]


def score_field(candidate_id: int, dim_key: str) -> str:
    return f"score-{candidate_id}-{dim_key}"


INVALID_CHOICE = "Select a valid choice. {} is not one of the available choices."
STRENGTHS = ("1", "2", "3")


class JudgmentForm:
    """The judgment form, validated in plain Python.

    It has the interface of a bound Django form that the views and the screen use (`data`,
    `is_bound`, `errors`, `is_valid()`, `cleaned_data`) and Django's messages, but builds no
    field objects: a Django `Form` made a `ChoiceField` per response × dimension on every
    submit, about a tenth of the request's CPU.
    """

    is_bound = True

    def __init__(self, data, *, assignment: Assignment, dimensions, flags):
        self.data = data
        self.assignment = assignment
        self.project: Project = assignment.item.project
        self.candidate_ids: list[int] = list(assignment.display_order)
        self.dimensions = list(dimensions)
        self.flag_keys = {f.key for f in flags}
        self._errors: dict[str, list[str]] | None = None
        self.cleaned_data: dict = {}

    @property
    def errors(self) -> dict[str, list[str]]:
        if self._errors is None:
            self._errors = {}
            self._clean()
        return self._errors

    def is_valid(self) -> bool:
        return not self.errors

    def add_error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)
        self.cleaned_data.pop(name, None)

    def _choice(self, name: str, allowed, *, required: bool, message: str = "") -> None:
        value = self.data.get(name)
        value = "" if value is None else str(value)
        if value == "":
            if required:
                self.add_error(name, message or "This field is required.")
            else:
                self.cleaned_data[name] = ""
        elif value not in allowed:
            self.add_error(name, INVALID_CHOICE.format(value))
        else:
            self.cleaned_data[name] = value

    def _clean(self) -> None:
        data, scale = self.cleaned_data, {v for v, _ in SCALE_CHOICES}
        for cid in self.candidate_ids:
            for dim in self.dimensions:
                self._choice(
                    score_field(cid, dim.key),
                    scale,
                    required=self.project.scores_required,
                    message=f"Score {dim.name.lower()} for every response.",
                )
            chosen = self.data.getlist(f"flags-{cid}")
            unknown = [k for k in chosen if k not in self.flag_keys]
            if unknown:
                self.add_error(f"flags-{cid}", INVALID_CHOICE.format(unknown[0]))
            else:
                data[f"flags-{cid}"] = list(chosen)
        if self.project.mode == Project.Mode.PAIRWISE:
            allowed = {SAME} | {f"{cid}:{s}" for cid in self.candidate_ids for s in STRENGTHS}
            self._choice(
                "preference",
                allowed,
                required=True,
                message="Choose which response is better, or 'about the same'.",
            )
        else:
            ranks = {str(r) for r in range(1, len(self.candidate_ids) + 1)}
            for cid in self.candidate_ids:
                self._choice(
                    f"rank-{cid}",
                    ranks,
                    required=True,
                    message="Give every response a rank (ties allowed).",
                )
        # As Django's CheckboxInput and BooleanField read a checkbox.
        all_bad = self.data.get("all_bad", False)
        if isinstance(all_bad, str):
            all_bad = {"true": True, "false": False, "0": False}.get(all_bad.lower(), all_bad)
        data["all_bad"] = bool(all_bad)
        rationale = str(self.data.get("rationale") or "").strip()
        if len(rationale) > MAX_RATIONALE:
            self.add_error(
                "rationale",
                f"Ensure this value has at most {MAX_RATIONALE} characters "
                f"(it has {len(rationale)}).",
            )
        else:
            data["rationale"] = rationale
        elapsed = str(self.data.get("elapsed_ms") or "").strip()
        if not elapsed:
            data["elapsed_ms"] = None
        elif not elapsed.isdigit():
            message = "Enter a whole number."
            if elapsed.startswith("-") and elapsed[1:].isdigit():
                message = "Ensure this value is greater than or equal to 0."
            self.add_error("elapsed_ms", message)
        else:
            data["elapsed_ms"] = int(elapsed)
        if self._errors:
            return
        flags = {(cid, key) for cid in self.candidate_ids for key in data[f"flags-{cid}"]}
        policy = self.project.rationale_policy
        needs_rationale = policy == Project.RationalePolicy.REQUIRED or (
            policy == Project.RationalePolicy.ON_HARM
            and any(key in HARM_FLAG_KEYS for _, key in flags)
        )
        if needs_rationale and not data.get("rationale"):
            why = "a harm flag is ticked" if policy == Project.RationalePolicy.ON_HARM else "always"
            self.add_error("rationale", f"Write a short rationale (required: {why}).")

    def answer(self) -> JudgmentInput:
        """The cleaned form as a JudgmentInput; call only when valid."""
        data = self.cleaned_data
        preferred_id = strength = ranking = None
        if self.project.mode == Project.Mode.PAIRWISE:
            if data["preference"] == SAME:
                strength = 0
            else:
                cid, s = data["preference"].split(":")
                preferred_id, strength = int(cid), int(s)
        else:
            by_rank: dict[int, list[int]] = {}
            for cid in self.candidate_ids:
                by_rank.setdefault(int(data[f"rank-{cid}"]), []).append(cid)
            ranking = [sorted(by_rank[r]) for r in sorted(by_rank)]
        scores = {
            (cid, dim.id): int(data[score_field(cid, dim.key)])
            for cid in self.candidate_ids
            for dim in self.dimensions
            if data.get(score_field(cid, dim.key))
        }
        flags = {(cid, key) for cid in self.candidate_ids for key in data[f"flags-{cid}"]}
        return JudgmentInput(
            preferred_id=preferred_id,
            strength=strength,
            ranking=ranking,
            all_bad=data["all_bad"],
            scores=scores,
            flags=flags,
            rationale=data.get("rationale", ""),
            time_spent_ms=min(self._elapsed_ms(), MAX_ELAPSED_MS),
        )

    def _elapsed_ms(self) -> int:
        """The page's own measure of time on the item; without JavaScript, time since lease."""
        if self.cleaned_data.get("elapsed_ms") is not None:
            return self.cleaned_data["elapsed_ms"]
        delta = timezone.now() - self.assignment.updated_at
        return max(0, int(delta.total_seconds() * 1000))


class SkipForm(forms.Form):
    reason = forms.ChoiceField(choices=SKIP_REASONS)
    note = forms.CharField(required=False, max_length=250)

    def reason_text(self) -> str:
        reason = self.cleaned_data["reason"]
        note = self.cleaned_data.get("note", "")
        return f"{reason}: {note}" if note else reason
