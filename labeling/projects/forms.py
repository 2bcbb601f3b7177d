"""Forms for the lead's pages: project settings, rubric dimensions, flags and members."""

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug

from labeling.accounts.models import User

from .models import Dimension, Flag, Membership, Project
from .taxonomy import BASE_FLAG_KEYS, BASE_FLAGS, DEFAULT_DIMENSIONS

MAX_DIMENSIONS = 6
ANCHOR_POINTS = ("1", "4", "7")
SLUG_HELP = "Letters, digits, hyphens and underscores."


class ProjectForm(forms.ModelForm):
    """A project's settings and flag set; the rubric comes from DimensionFormSet beside it."""

    lease_minutes = forms.IntegerField(
        min_value=1,
        max_value=24 * 60,
        help_text="How long a trainer holds an item before it goes back to the queue.",
    )
    overlap = forms.IntegerField(
        min_value=1, max_value=50, initial=1, help_text="How many trainers judge each item."
    )
    base_flags = forms.MultipleChoiceField(
        choices=[(f.key, f.label) for f in BASE_FLAGS],
        initial=[f.key for f in BASE_FLAGS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Base flags",
    )
    custom_flags = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "off_topic: Off topic"}),
        label="Custom flags",
        help_text="One per line, as key: Label. Keys must not repeat a base flag's key.",
    )

    class Meta:
        model = Project
        fields = [
            "name",
            "kind",
            "mode",
            "guidelines",
            "scores_required",
            "rationale_policy",
            "lease_minutes",
            "overlap",
        ]
        widgets = {"guidelines": forms.Textarea(attrs={"rows": 12})}

    def __init__(self, *args, mode_locked: bool = False, **kwargs):
        instance = kwargs.get("instance")
        if instance is not None and instance.pk and "initial" not in kwargs:
            flags = list(instance.flags.all())
            kwargs["initial"] = {
                "base_flags": [f.key for f in flags if f.kind != Flag.Kind.CUSTOM],
                "custom_flags": "\n".join(
                    f"{f.key}: {f.label}" for f in flags if f.kind == Flag.Kind.CUSTOM
                ),
            }
        super().__init__(*args, **kwargs)
        self.mode_locked = mode_locked
        self.fields["kind"].required = False  # absent means a preference project
        self.fields[
            "kind"
        ].help_text = "Red team: trainers write adversarial prompts and judge the responses."
        if instance is not None and instance.pk:
            self.fields["kind"].disabled = True
            self.fields["kind"].help_text = "The kind is chosen when the project is created."
        if mode_locked:
            # A disabled field ignores what is posted and keeps the saved value.
            self.fields["mode"].disabled = True
            self.fields["mode"].help_text = "The mode cannot change once the project has items."

    def clean_kind(self) -> str:
        return self.cleaned_data.get("kind") or Project.Kind.PREFERENCE

    def base_flag_rows(self) -> list[tuple]:
        """Each base flag's checkbox beside its taxonomy entry, for the template."""
        return list(zip(self["base_flags"], BASE_FLAGS, strict=True))

    def clean_custom_flags(self) -> list[dict]:
        flags, seen, errors = [], set(), []
        for n, raw in enumerate(self.cleaned_data["custom_flags"].splitlines(), start=1):
            line = raw.strip()
            if not line:
                continue
            key, sep, label = (part.strip() for part in line.partition(":"))
            if not sep or not key or not label:
                errors.append(f"Line {n}: write it as key: Label.")
                continue
            try:
                validate_slug(key)
            except ValidationError:
                errors.append(f"Line {n}: “{key}” is not a valid key ({SLUG_HELP.lower()})")
                continue
            if len(key) > 40 or len(label) > 80:
                errors.append(f"Line {n}: keys are at most 40 characters, labels 80.")
            elif key.lower() in BASE_FLAG_KEYS:
                errors.append(f"Line {n}: “{key}” is a base flag; pick another key.")
            elif key.lower() in seen:
                errors.append(f"Line {n}: “{key}” is listed twice.")
            else:
                seen.add(key.lower())
                flags.append({"key": key, "label": label})
        if errors:
            raise ValidationError(errors)
        return flags


class DimensionForm(forms.Form):
    key = forms.SlugField(max_length=40)
    name = forms.CharField(max_length=80)
    description = forms.CharField(max_length=300, required=False)
    anchor_1 = forms.CharField(max_length=200, required=False, label="1 means")
    anchor_4 = forms.CharField(max_length=200, required=False, label="4 means")
    anchor_7 = forms.CharField(max_length=200, required=False, label="7 means")

    def as_dimension(self) -> dict:
        data = self.cleaned_data
        anchors = {p: data[f"anchor_{p}"] for p in ANCHOR_POINTS if data[f"anchor_{p}"]}
        return {
            "key": data["key"],
            "name": data["name"],
            "description": data["description"],
            "anchors": anchors,
        }


class BaseDimensionFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        if any(self.errors):
            return
        seen = set()
        for form in self.live_forms():
            key = form.cleaned_data["key"].lower()
            if key in seen:
                raise ValidationError(f"Two dimensions have the key “{key}”; keys must differ.")
            seen.add(key)
        if not seen:
            raise ValidationError("The rubric needs at least one dimension.")

    def live_forms(self) -> list[DimensionForm]:
        """The filled-in forms not marked for deletion, in page order."""
        # An untouched extra row validates to empty cleaned_data and is skipped.
        return [f for f in self.forms if f.cleaned_data and not self._should_delete_form(f)]

    def dimensions(self) -> list[dict]:
        return [f.as_dimension() for f in self.live_forms()]


DimensionFormSet = forms.formset_factory(
    DimensionForm,
    formset=BaseDimensionFormSet,
    extra=1,
    max_num=MAX_DIMENSIONS,
    validate_max=True,
    can_delete=True,
    can_delete_extra=False,
)


def dimension_initial(dimensions) -> list[dict]:
    """Formset rows from Dimension rows or DEFAULT_DIMENSIONS-style dicts."""
    rows = []
    for d in dimensions:
        if isinstance(d, Dimension):
            d = {"key": d.key, "name": d.name, "description": d.description, "anchors": d.anchors}
        row = {"key": d["key"], "name": d["name"], "description": d.get("description", "")}
        row.update({f"anchor_{p}": d.get("anchors", {}).get(p, "") for p in ANCHOR_POINTS})
        rows.append(row)
    return rows


def dimension_formset(data=None, *, dimensions=DEFAULT_DIMENSIONS) -> BaseDimensionFormSet:
    return DimensionFormSet(data, initial=dimension_initial(dimensions), prefix="dims")


class AddMemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.TRAINER)

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project

    def clean_username(self) -> User:
        username = self.cleaned_data["username"].strip()
        user = User.objects.filter(username=username).first()
        if user is None:
            raise ValidationError(f"There is no user called “{username}”.")
        if Membership.objects.filter(project=self.project, user=user).exists():
            raise ValidationError(
                f"{user.username} is already a member; change their role in the table."
            )
        return user


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)
