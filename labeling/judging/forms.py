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

SKIP_REASONS = [
    ("cannot_judge", "I can't judge this (outside my expertise)"),
    ("broken", "The item is broken (empty, garbled, wrong language)"),
    ("harmful", "I don't want to read this content"),
    ("other", "Other"),
]


def score_field(candidate_id: int, dim_key: str) -> str:
    return f"score-{candidate_id}-{dim_key}"


class JudgmentForm(forms.Form):
    all_bad = forms.BooleanField(required=False)
    rationale = forms.CharField(required=False, max_length=5000, strip=True)
    elapsed_ms = forms.IntegerField(required=False, min_value=0)

    def __init__(self, *args, assignment: Assignment, dimensions, flags, **kwargs):
        super().__init__(*args, **kwargs)
        self.assignment = assignment
        self.project: Project = assignment.item.project
        self.candidate_ids: list[int] = list(assignment.display_order)
        self.dimensions = list(dimensions)
        self.flag_keys = {f.key for f in flags}
        for cid in self.candidate_ids:
            for dim in self.dimensions:
                self.fields[score_field(cid, dim.key)] = forms.ChoiceField(
                    choices=SCALE_CHOICES,
                    required=self.project.scores_required,
                    error_messages={"required": f"Score {dim.name.lower()} for every response."},
                )
            self.fields[f"flags-{cid}"] = forms.MultipleChoiceField(
                choices=[(k, k) for k in sorted(self.flag_keys)], required=False
            )
        if self.project.mode == Project.Mode.PAIRWISE:
            choices = [(SAME, "About the same")] + [
                (f"{cid}:{s}", f"{cid}:{s}") for cid in self.candidate_ids for s in (1, 2, 3)
            ]
            self.fields["preference"] = forms.ChoiceField(
                choices=choices,
                error_messages={
                    "required": "Choose which response is better, or 'about the same'."
                },
            )
        else:
            ranks = [(str(r), str(r)) for r in range(1, len(self.candidate_ids) + 1)]
            for cid in self.candidate_ids:
                self.fields[f"rank-{cid}"] = forms.ChoiceField(
                    choices=ranks,
                    error_messages={"required": "Give every response a rank (ties allowed)."},
                )

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        flags = {(cid, key) for cid in self.candidate_ids for key in data[f"flags-{cid}"]}
        policy = self.project.rationale_policy
        needs_rationale = policy == Project.RationalePolicy.REQUIRED or (
            policy == Project.RationalePolicy.ON_HARM
            and any(key in HARM_FLAG_KEYS for _, key in flags)
        )
        if needs_rationale and not data.get("rationale"):
            why = "a harm flag is ticked" if policy == Project.RationalePolicy.ON_HARM else "always"
            self.add_error("rationale", f"Write a short rationale (required: {why}).")
        return data

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
