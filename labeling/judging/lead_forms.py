"""Forms for the lead's queue, trainer, gold and review pages."""

from string import ascii_uppercase
from zoneinfo import available_timezones

from django import forms

from labeling.projects.models import Project

from .models import Queue

TOLERANCE_CHOICES = [
    (0, "Exactly this answer"),
    (1, "Also accept “about the same”"),
]
SAME = "same"


class QueueForm(forms.Form):
    name = forms.CharField(max_length=120)
    priority = forms.IntegerField(min_value=-100, max_value=100, initial=0)
    overlap = forms.IntegerField(min_value=1, max_value=20, initial=1, label="Overlap (k)")
    is_paused = forms.BooleanField(required=False, label="Paused")
    restricted = forms.BooleanField(required=False, label="Only the chosen trainers")
    trainers = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, trainers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.trainer_users = {str(u.pk): u for u in trainers}
        self.fields["trainers"].choices = [(str(u.pk), u.username) for u in trainers]

    @classmethod
    def for_queue(cls, queue: Queue, data=None, *, trainers=()) -> "QueueForm":
        initial = {
            "name": queue.name,
            "priority": queue.priority,
            "overlap": queue.overlap,
            "is_paused": queue.is_paused,
            "restricted": queue.restricted,
            "trainers": [str(u.pk) for u in queue.trainers.all()],
        }
        return cls(data, initial=initial, trainers=trainers, prefix=f"q{queue.pk}")

    def chosen_trainers(self) -> list:
        return [self.trainer_users[pk] for pk in self.cleaned_data["trainers"]]


class NewQueueForm(forms.Form):
    name = forms.CharField(max_length=120)
    priority = forms.IntegerField(min_value=-100, max_value=100, initial=0)
    overlap = forms.IntegerField(min_value=1, max_value=20, initial=1, label="Overlap (k)")


class TrainerForm(forms.Form):
    daily_cap = forms.IntegerField(
        min_value=0, required=False, label="Daily cap", help_text="Empty: the project's cap."
    )
    is_paused = forms.BooleanField(required=False, label="Paused")


class QueueSettingsForm(forms.ModelForm):
    """The project's cap, day boundary, gold rate and qualification rules."""

    time_zone = forms.ChoiceField(choices=[])

    class Meta:
        model = Project
        fields = [
            "daily_cap",
            "time_zone",
            "gold_rate",
            "gold_window",
            "gold_min_accuracy",
            "qualification_size",
            "qualification_pass",
        ]
        labels = {
            "daily_cap": "Daily cap per trainer",
            "gold_rate": "Gold rate (share of items, 0–1)",
            "gold_window": "Accuracy window (last N gold items)",
            "gold_min_accuracy": "Pause below this gold accuracy (0–1)",
            "qualification_size": "Qualification: gold items to answer first (0 = none)",
            "qualification_pass": "Qualification: correct answers needed",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(z, z) for z in sorted(available_timezones())]
        for name in ("gold_rate", "gold_min_accuracy"):
            self.fields[name].widget.attrs.update({"step": "0.01", "min": "0", "max": "1"})

    def clean_gold_rate(self) -> float:
        return _share(self.cleaned_data["gold_rate"])

    def clean_gold_min_accuracy(self) -> float:
        return _share(self.cleaned_data["gold_min_accuracy"])

    def clean_gold_window(self) -> int:
        value = self.cleaned_data["gold_window"]
        if value < 1:
            raise forms.ValidationError("At least 1.")
        return value

    def clean(self):
        data = super().clean()
        size, needed = data.get("qualification_size"), data.get("qualification_pass")
        if size is not None and needed is not None and needed > size:
            self.add_error("qualification_pass", "Cannot need more than the items answered.")
        return data


def _share(value: float) -> float:
    if not 0 <= value <= 1:
        raise forms.ValidationError("Between 0 and 1.")
    return value


class GoldForm(forms.Form):
    """The expected answer of a gold item, by the candidates' slot letters."""

    preferred = forms.ChoiceField(label="Better response")
    tolerance = forms.TypedChoiceField(
        choices=TOLERANCE_CHOICES, coerce=int, initial=0, widget=forms.RadioSelect
    )
    flags = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Expected flags"
    )
    explanation = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The guideline passage shown to a trainer who fails the qualification.",
    )

    def __init__(self, *args, candidates=(), flag_choices=(), ranking: bool = False, **kw):
        super().__init__(*args, **kw)
        self.candidate_ids = [c.pk for c in candidates]
        letters = [
            (str(c.pk), f"{ascii_uppercase[i]}: {c.text[:60]}") for i, c in enumerate(candidates)
        ]
        self.fields["preferred"].choices = [
            *letters,
            *([] if ranking else [(SAME, "About the same")]),
        ]
        if ranking:
            self.fields["preferred"].label = "Best response"
        self.letters = {str(c.pk): ascii_uppercase[i] for i, c in enumerate(candidates)}
        self.fields["flags"].choices = [
            (f"{c.pk}:{f.key}", f.label) for c in candidates for f in flag_choices
        ]

    def flag_groups(self) -> list[tuple[str, list]]:
        """The flag checkboxes grouped by response letter, for the template."""
        groups: dict[str, list] = {}
        for box in self["flags"]:
            cid = str(box.data["value"]).split(":", 1)[0]
            groups.setdefault(self.letters[cid], []).append(box)
        return list(groups.items())

    def answer(self) -> dict:
        data = self.cleaned_data
        preferred = None if data["preferred"] == SAME else int(data["preferred"])
        flags = []
        for value in data["flags"]:
            cid, key = value.split(":", 1)
            flags.append([int(cid), key])
        return {
            "preferred": preferred,
            "tolerance": data["tolerance"],
            "flags": flags,
            "explanation": data["explanation"].strip(),
        }

    @classmethod
    def initial_from(cls, answer: dict | None) -> dict:
        if not answer:
            return {}
        preferred = answer.get("preferred")
        return {
            "preferred": SAME if preferred is None else str(preferred),
            "tolerance": answer.get("tolerance", 0),
            "flags": [f"{cid}:{key}" for cid, key in answer.get("flags", [])],
            "explanation": answer.get("explanation", ""),
        }


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=[("accept", "Accept"), ("return", "Return")])
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def clean(self):
        data = super().clean()
        if data.get("decision") == "return" and not data.get("comment", "").strip():
            self.add_error("comment", "Say what to change when you return a judgment.")
        return data


class PersonalDataForm(forms.Form):
    """Redact or remove text flagged as personal data: one of the item's responses, or none
    for the prompt itself."""

    action = forms.ChoiceField(choices=[("redact", "Redact"), ("remove", "Remove")])
    candidate = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)

    def __init__(self, *args, candidates, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._candidates = {c.pk: c for c in candidates}
        self.fields["candidate"].choices = [("", "the prompt")] + [
            (c.pk, str(c.pk)) for c in candidates
        ]

    def clean_candidate(self):
        pk = self.cleaned_data.get("candidate")
        return self._candidates[pk] if pk is not None else None
