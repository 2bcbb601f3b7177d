"""The researcher's export form: format, file type, how pairs are made, filters, split."""

from django import forms

from labeling.projects.models import Candidate, Project

from .build import dimensions_of
from .options import (
    AGGREGATES,
    DEFAULT_MARGINS,
    EXPANSIONS,
    FILE_TYPES,
    FLAG_EXCLUSIONS,
    FORMATS,
    ExportOptions,
    OptionsError,
    margins_text,
)
from .services import options_for

DEFAULTS = ExportOptions()


def _choices(mapping: dict) -> list[tuple[str, str]]:
    return list(mapping.items())


class ExportForm(forms.Form):
    format = forms.ChoiceField(
        choices=[(k, v[0]) for k, v in FORMATS.items()], widget=forms.RadioSelect
    )
    file_type = forms.ChoiceField(
        choices=[("jsonl", "JSONL"), ("parquet", "Parquet"), ("csv", "CSV (flat formats only)")]
    )
    preference = forms.ChoiceField(label="Which preference")
    combine_primary = forms.ChoiceField(label="Deciding dimension")
    combine_threshold = forms.IntegerField(label="when scores differ by at least", min_value=1)
    combine_fallback = forms.ChoiceField(label="otherwise")
    expansion = forms.ChoiceField(choices=_choices(EXPANSIONS), label="Rankings expand to")
    aggregate = forms.ChoiceField(
        choices=_choices(AGGREGATES), label="Several trainers per item", widget=forms.RadioSelect
    )
    ties = forms.ChoiceField(choices=[("drop", "drop"), ("keep", "keep (TRL only)")])
    both_bad = forms.ChoiceField(choices=[("drop", "drop"), ("keep", "keep")], label="Both bad")
    margins = forms.CharField(
        label="Margin per strength",
        help_text="strength:margin for 0 (same) … 3 (much better)",
    )
    kto_dimension = forms.ChoiceField(label="KTO score")
    kto_threshold = forms.FloatField(label="KTO label true at score ≥", min_value=1, max_value=7)
    min_judgments = forms.IntegerField(min_value=1, label="Minimum judgments per item")
    min_agreement = forms.FloatField(min_value=0, max_value=1, label="Minimum agreement (0–1)")
    exclude_skipped = forms.BooleanField(required=False, label="Exclude items someone skipped")
    exclude_flagged = forms.ChoiceField(
        choices=_choices(FLAG_EXCLUSIONS), label="Exclude items with"
    )
    min_gold_accuracy = forms.FloatField(
        required=False,
        min_value=0,
        max_value=1,
        label="Exclude trainers below gold accuracy (0–1)",
        help_text="Empty: no filter. Applies once gold items have answers.",
    )
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    guideline_versions = forms.CharField(
        required=False, label="Guideline versions", help_text="e.g. 2,3 — empty: all"
    )
    models = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Models",
        help_text="None ticked: all",
    )
    include_gold = forms.BooleanField(required=False, label="Include gold items")
    include_late = forms.BooleanField(required=False, label="Include late judgments")
    provenance = forms.BooleanField(
        required=False, label="Provenance columns (models, generation parameters, shown order)"
    )
    redact_pii = forms.BooleanField(
        required=False,
        label="Redact personal data (e-mails, phone numbers, IP addresses, card numbers)",
    )
    test_ratio = forms.FloatField(min_value=0, max_value=0.9, label="Test share (0–0.9)")
    seed = forms.IntegerField(label="Split seed")

    def __init__(self, *args, project: Project, **kwargs) -> None:
        initial = {
            **{k: v for k, v in DEFAULTS.to_dict().items() if k in self.base_fields},
            "margins": margins_text(DEFAULT_MARGINS),
            "guideline_versions": "",
            "models": [],
        }
        kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        self.project = project
        dims = dimensions_of(project)
        dim_choices = [(k, name) for k, name in dims]
        self.fields["preference"].choices = [
            ("overall", "Overall answer"),
            *[(k, f"{name} only (from scores)") for k, name in dims],
            ("combined", "Combined rule (below)"),
        ]
        self.fields["combine_primary"].choices = dim_choices
        self.fields["combine_fallback"].choices = [("overall", "Overall answer"), *dim_choices]
        self.fields["kto_dimension"].choices = [("mean", "Mean of all dimensions"), *dim_choices]
        models = (
            Candidate.objects.filter(prompt__project=project)
            .exclude(model_name="")
            .order_by("model_name")
            .values_list("model_name", flat=True)
            .distinct()
        )
        self.fields["models"].choices = [(m, m) for m in models[:50]]
        self.file_types = FILE_TYPES

    def clean_guideline_versions(self) -> list[int]:
        raw = self.cleaned_data["guideline_versions"]
        try:
            return sorted({int(p) for p in raw.replace(" ", "").split(",") if p})
        except ValueError as exc:
            raise forms.ValidationError("Versions are numbers separated by commas.") from exc

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        values = {k: data[k] for k in self.fields if k in data}
        for name in ("date_from", "date_to"):
            values[name] = values[name].isoformat() if values.get(name) else None
        try:
            self.options = options_for(project=self.project, data=values)
        except OptionsError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return data

    def format_help(self) -> list[tuple[str, str, str, str]]:
        return [(k, label, ", ".join(types), blurb) for k, (label, types, blurb) in FORMATS.items()]
