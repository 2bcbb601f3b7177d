"""Forms for endpoints, screening and starting a generation job."""

import json

from django import forms
from django.core.exceptions import ValidationError

from labeling.projects.models import Project

from .models import GenerationJob, ModelEndpoint, ModerationEndpoint
from .services import clean_variants, endpoints_for, start_generation_job


class EndpointForm(forms.ModelForm):
    class Meta:
        model = ModelEndpoint
        fields = [
            "name",
            "kind",
            "base_url",
            "model",
            "api_key_env",
            "system_prompt",
            "temperature",
            "top_p",
            "max_tokens",
            "supports_seed",
            "timeout_seconds",
            "max_concurrency",
        ]
        widgets = {"system_prompt": forms.Textarea(attrs={"rows": 3})}


class IndentedJSONField(forms.JSONField):
    """A JSON field shown one entry a line, so a lead can edit a mapping by hand."""

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, ensure_ascii=False, indent=2, cls=self.encoder)


class ModerationForm(forms.ModelForm):
    category_map = IndentedJSONField(
        label="Category mapping",
        required=False,
        widget=forms.Textarea(attrs={"rows": 15}),
        help_text='Moderation category → taxonomy key, e.g. {"hate": "hate"}.',
    )

    class Meta:
        model = ModerationEndpoint
        fields = [
            "base_url",
            "model",
            "api_key_env",
            "timeout_seconds",
            "threshold",
            "category_map",
            "screen_generated",
            "route_to_queue",
        ]
        labels = {"route_to_queue": "Route screened-harmful items to"}
        help_texts = {
            "route_to_queue": "Optional: items with a screened-harmful candidate move to this "
            "queue (make it restricted to the trainers who should see them).",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        queues = self.fields["route_to_queue"]
        queues.queryset = self.instance.project.queues.order_by("-priority", "id")
        queues.empty_label = "(leave them where they are)"

    def clean_category_map(self) -> dict:
        return self.cleaned_data.get("category_map") or {}


def _numbers(raw: str, *, name: str, cast) -> list:
    values = []
    for part in raw.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            values.append(cast(part))
        except ValueError:
            raise ValidationError(f"“{part}” is not a number.") from None
    if len(values) > 5:
        raise ValidationError(f"At most 5 {name} values.")
    return values


class JobForm(forms.Form):
    selection = forms.ChoiceField(
        label="Prompts", choices=GenerationJob.Selection.choices, widget=forms.RadioSelect
    )
    batch = forms.ModelChoiceField(
        label="Import", queryset=None, required=False, empty_label="(choose an import)"
    )
    contains = forms.CharField(
        label="Only prompts containing", required=False, max_length=200, help_text="Optional."
    )
    endpoints = forms.ModelMultipleChoiceField(
        queryset=None, widget=forms.CheckboxSelectMultiple, label="Endpoints"
    )
    samples_per_endpoint = forms.IntegerField(
        label="Samples per endpoint", min_value=1, max_value=20, initial=1
    )
    temperatures = forms.CharField(
        label="Temperatures",
        required=False,
        help_text="Optional overrides, comma-separated (e.g. 0.2, 1.0): one run of every "
        "endpoint per value. Empty: each endpoint's own.",
    )
    max_tokens = forms.IntegerField(
        label="Max tokens", required=False, min_value=1, max_value=32768, help_text="Optional."
    )
    pairing = forms.ChoiceField(label="Pairing", choices=GenerationJob.Pairing.choices)
    pairs_per_prompt = forms.IntegerField(
        label="Pairs per prompt (random pairs)", min_value=1, max_value=50, initial=1
    )

    def __init__(self, *args, project: Project, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.project = project
        self.fields["batch"].queryset = project.imports.order_by("-created_at")
        self.fields["endpoints"].queryset = endpoints_for(project=project)
        choices = GenerationJob.Pairing.choices
        if project.mode == Project.Mode.PAIRWISE:
            choices = [c for c in choices if c[0] != GenerationJob.Pairing.K_WAY]
        self.fields["pairing"].choices = choices

    def clean_temperatures(self) -> list[float]:
        values = _numbers(self.cleaned_data["temperatures"], name="temperature", cast=float)
        if any(not 0 <= v <= 2 for v in values):
            raise ValidationError("Temperatures go from 0 to 2.")
        return values

    def clean(self) -> dict:
        data = super().clean()
        if data.get("selection") == GenerationJob.Selection.BATCH and not data.get("batch"):
            self.add_error("batch", "Choose the import whose prompts to use.")
        variants = [{"temperature": t} for t in data.get("temperatures") or []] or [{}]
        if data.get("max_tokens"):
            variants = [{**v, "max_tokens": data["max_tokens"]} for v in variants]
        try:
            data["variants"] = clean_variants(variants)
        except ValidationError as exc:
            self.add_error("temperatures", exc)
        return data


def start_job_from(form: JobForm, *, by) -> GenerationJob:
    """Start the job a valid JobForm describes (the web page and the API both come here)."""
    data = form.cleaned_data
    return start_generation_job(
        project=form.project,
        by=by,
        endpoints=list(data["endpoints"]),
        selection=data["selection"],
        batch=data.get("batch"),
        contains=data.get("contains", ""),
        samples_per_endpoint=data["samples_per_endpoint"],
        variants=data["variants"],
        pairing_strategy=data["pairing"],
        pairs_per_prompt=data["pairs_per_prompt"],
    )
