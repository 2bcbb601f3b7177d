"""Forms of the red-team pages: write an attack, judge its responses, generate, promote, export."""

from django import forms
from django.core.exceptions import ValidationError

from labeling.projects.models import Project

from .export import FILE_TYPES
from .models import SEVERITY_MAX, Attack
from .services import ATTACK_CATEGORIES, SEVERITY_CATEGORIES, SEVERITY_SCALE, Verdict

SEVERITY_CHOICES = [("", "–")] + [(str(v), f"{v} {name}") for v, name in SEVERITY_SCALE]


class AttackForm(forms.Form):
    system = forms.CharField(
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="System message (optional)",
        help_text="Sent before your prompt, e.g. a role the model is asked to play.",
    )
    prompt = forms.CharField(
        max_length=8000,
        widget=forms.Textarea(attrs={"rows": 6, "autofocus": True}),
        label="Adversarial prompt",
    )
    category = forms.ChoiceField(choices=ATTACK_CATEGORIES, label="Harm category aimed at")
    tactic = forms.CharField(
        max_length=300,
        label="Tactic",
        help_text="How the attack works, in your words: role play, hypothetical, obfuscation…",
    )

    def messages(self) -> list[dict]:
        data = self.cleaned_data
        turns = [{"role": "system", "content": data["system"].strip()}] if data["system"] else []
        return [*turns, {"role": "user", "content": data["prompt"].strip()}]


class JudgeForm(forms.Form):
    """One verdict per response: success, severity per category, rationale."""

    def __init__(self, *args, attack: Attack, candidates: list, **kwargs):
        super().__init__(*args, **kwargs)
        self.attack = attack
        self.candidates = candidates
        for c in candidates:
            existing = getattr(c, "redteam_judgment", None)
            self.fields[f"success_{c.pk}"] = forms.TypedChoiceField(
                choices=[("yes", "Yes: the attack worked"), ("no", "No: safe response")],
                coerce=lambda v: v == "yes",
                widget=forms.RadioSelect,
                label="Did the attack succeed?",
                initial=None if existing is None else ("yes" if existing.success else "no"),
            )
            for key, label in SEVERITY_CATEGORIES:
                rated = existing.severities.get(key) if existing else None
                self.fields[f"sev_{c.pk}_{key}"] = forms.TypedChoiceField(
                    choices=SEVERITY_CHOICES,
                    coerce=int,
                    empty_value=None,
                    required=key == attack.category,
                    label=label,
                    initial="" if rated is None else str(rated),
                )
            self.fields[f"rationale_{c.pk}"] = forms.CharField(
                required=False,
                max_length=4000,
                widget=forms.Textarea(attrs={"rows": 2}),
                label="Rationale",
                initial=existing.rationale if existing else "",
            )

    def clean(self):
        data = super().clean()
        for c in self.candidates:
            success = data.get(f"success_{c.pk}")
            own = data.get(f"sev_{c.pk}_{self.attack.category}")
            if success and own is not None and own < 1:
                self.add_error(
                    f"sev_{c.pk}_{self.attack.category}",
                    "A successful attack did some harm: rate it 1–4.",
                )
            if success and not data.get(f"rationale_{c.pk}", "").strip():
                self.add_error(f"rationale_{c.pk}", "Say why the attack worked.")
            if own is not None and not 0 <= own <= SEVERITY_MAX:
                self.add_error(f"sev_{c.pk}_{self.attack.category}", "0–4.")
        return data

    def rows(self) -> list[dict]:
        """Per response: its bound fields, the attack's category first (for the template)."""
        out = []
        for c in self.candidates:
            severities = [self[f"sev_{c.pk}_{self.attack.category}"]] + [
                self[f"sev_{c.pk}_{k}"] for k, _ in SEVERITY_CATEGORIES if k != self.attack.category
            ]
            out.append(
                {
                    "candidate": c,
                    "success": self[f"success_{c.pk}"],
                    "own_severity": severities[0],
                    "other_severities": severities[1:],
                    "rationale": self[f"rationale_{c.pk}"],
                }
            )
        return out

    def verdicts(self) -> list[Verdict]:
        data = self.cleaned_data
        return [
            Verdict(
                candidate_id=c.pk,
                success=data[f"success_{c.pk}"],
                severities={
                    k: data[f"sev_{c.pk}_{k}"]
                    for k, _ in SEVERITY_CATEGORIES
                    if data.get(f"sev_{c.pk}_{k}") is not None
                },
                rationale=data[f"rationale_{c.pk}"],
            )
            for c in self.candidates
        ]


class GenerateForm(forms.Form):
    endpoints = forms.ModelMultipleChoiceField(
        queryset=None, widget=forms.CheckboxSelectMultiple, label="Endpoints"
    )
    samples_per_endpoint = forms.IntegerField(min_value=1, max_value=5, initial=1)
    only_new = forms.BooleanField(
        required=False,
        initial=True,
        label="Only attacks without responses",
        help_text="Untick to send every attack (responses that exist are not made again).",
    )
    make_default = forms.BooleanField(
        required=False,
        label="Send new attacks to these endpoints automatically",
    )

    def __init__(self, *args, endpoints, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["endpoints"].queryset = endpoints


class AttackChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Attack) -> str:
        text = obj.prompt.last_user_text
        snippet = text if len(text) <= 80 else text[:79] + "…"
        promoted = getattr(obj, "n_promotions", 0)
        return f"#{obj.pk} · {obj.category_label} · {snippet}" + (
            f" (promoted {promoted}×)" if promoted else ""
        )


class PromoteForm(forms.Form):
    attacks = AttackChoiceField(
        queryset=None, widget=forms.CheckboxSelectMultiple, label="Successful attacks"
    )
    target = forms.ModelChoiceField(queryset=None, label="Preference project")

    def __init__(self, *args, attacks, targets, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attacks"].queryset = attacks
        self.fields["target"].queryset = targets

    def clean_target(self) -> Project:
        target = self.cleaned_data["target"]
        if target.is_red_team:
            raise ValidationError("Promote into a preference project.")
        return target


class RedTeamExportForm(forms.Form):
    file_type = forms.ChoiceField(choices=[(t, t.upper()) for t in FILE_TYPES], initial="jsonl")
