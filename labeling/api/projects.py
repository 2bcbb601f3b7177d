"""Projects: list and read (members), create (who may on the web), update (leads), stats.

Writes are validated by the web's own ProjectForm and rubric formset, fed from the JSON
body, then saved by the same services (create_project, update_project).
"""

import copy

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count, Q
from django.utils.datastructures import MultiValueDict
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response

from labeling.datasets.pseudonyms import pseudonym
from labeling.judging.models import Assignment, Judgment
from labeling.projects.access import projects_of
from labeling.projects.forms import ProjectForm, dimension_formset
from labeling.projects.models import Flag, Membership, Project
from labeling.projects.services import create_project, project_counts, update_project
from labeling.projects.taxonomy import BASE_FLAG_KEYS, DEFAULT_DIMENSIONS

from .errors import form_errors, from_django
from .permissions import LEAD, READERS, ApiView, ListView

# --- serializers ---------------------------------------------------------------------------------


def extend_schema_field_list(serializer_class):
    """drf-spectacular cannot infer a method field that returns a list of objects."""
    return extend_schema_field(serializer_class(many=True))


class DimensionSerializer(serializers.Serializer):
    key = serializers.SlugField(max_length=40)
    name = serializers.CharField(max_length=80)
    description = serializers.CharField(max_length=300, required=False, allow_blank=True)
    anchors = serializers.DictField(
        child=serializers.CharField(max_length=200, allow_blank=True),
        required=False,
        help_text='Anchor texts by scale point: {"1": "…", "4": "…", "7": "…"}.',
    )


class FlagSerializer(serializers.Serializer):
    key = serializers.CharField(read_only=True)
    label = serializers.CharField(read_only=True)
    kind = serializers.ChoiceField(choices=Flag.Kind.choices, read_only=True)
    description = serializers.CharField(read_only=True)


class CustomFlagSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=40)
    label = serializers.CharField(max_length=80)

    def validate(self, attrs):
        for name in ("key", "label"):
            if "\n" in attrs[name] or "\r" in attrs[name]:
                raise serializers.ValidationError({name: "One line only."})
        if ":" in attrs["key"]:
            raise serializers.ValidationError({"key": "A key cannot contain ':'."})
        return attrs


class ProjectSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField(help_text="Your role in this project.")
    dimensions = serializers.SerializerMethodField()
    flags = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = [
            "slug",
            "name",
            "mode",
            "guidelines",
            "guidelines_version",
            "scores_required",
            "rationale_policy",
            "overlap",
            "lease_minutes",
            "daily_cap",
            "role",
            "dimensions",
            "flags",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_role(self, project: Project) -> str:
        return self.context["roles"].get(project.pk, "")

    @extend_schema_field_list(DimensionSerializer)
    def get_dimensions(self, project: Project) -> list[dict]:
        return [
            {"key": d.key, "name": d.name, "description": d.description, "anchors": d.anchors}
            for d in project.active_dimensions()
        ]

    @extend_schema_field_list(FlagSerializer)
    def get_flags(self, project: Project) -> list[dict]:
        return FlagSerializer(project.flags.all(), many=True).data


class ProjectWriteSerializer(serializers.Serializer):
    """The project's settings; on update every field is optional (the rest is kept)."""

    name = serializers.CharField(max_length=200)
    mode = serializers.ChoiceField(choices=Project.Mode.choices, required=False)
    guidelines = serializers.CharField(required=False, allow_blank=True)
    scores_required = serializers.BooleanField(required=False)
    rationale_policy = serializers.ChoiceField(
        choices=Project.RationalePolicy.choices, required=False
    )
    lease_minutes = serializers.IntegerField(required=False, min_value=1, max_value=24 * 60)
    overlap = serializers.IntegerField(required=False, min_value=1, max_value=50)
    dimensions = DimensionSerializer(many=True, required=False)
    base_flags = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(BASE_FLAG_KEYS)),
        required=False,
        help_text="Base-taxonomy flag ids to offer (default: all).",
    )
    custom_flags = CustomFlagSerializer(many=True, required=False)


def project_payload(project: Project, user) -> dict:
    roles = dict(
        Membership.objects.filter(user=user, project=project).values_list("project", "role")
    )
    return ProjectSerializer(project, context={"roles": roles}).data


# --- validation through the web's forms ----------------------------------------------------------


def _current_values(project: Project) -> dict:
    flags = list(project.flags.all())
    return {
        "name": project.name,
        "mode": project.mode,
        "guidelines": project.guidelines,
        "scores_required": project.scores_required,
        "rationale_policy": project.rationale_policy,
        "lease_minutes": project.lease_minutes,
        "overlap": project.overlap,
        "dimensions": [
            {"key": d.key, "name": d.name, "description": d.description, "anchors": d.anchors}
            for d in project.active_dimensions()
        ],
        "base_flags": [f.key for f in flags if f.kind != Flag.Kind.CUSTOM],
        "custom_flags": [
            {"key": f.key, "label": f.label} for f in flags if f.kind == Flag.Kind.CUSTOM
        ],
    }


def _defaults() -> dict:
    return {
        "mode": Project.Mode.PAIRWISE,
        "guidelines": "",
        "scores_required": True,
        "rationale_policy": Project.RationalePolicy.ON_HARM,
        "lease_minutes": settings.LEASE_MINUTES_DEFAULT,
        "overlap": 1,
        "dimensions": list(DEFAULT_DIMENSIONS),
        "base_flags": sorted(BASE_FLAG_KEYS),
        "custom_flags": [],
    }


def _form_data(values: dict) -> MultiValueDict:
    data = MultiValueDict()
    for name in ("name", "mode", "guidelines", "rationale_policy", "lease_minutes", "overlap"):
        data[name] = str(values[name])
    data["scores_required"] = "true" if values["scores_required"] else "false"
    data.setlist("base_flags", list(values["base_flags"]))
    data["custom_flags"] = "\n".join(f"{f['key']}: {f['label']}" for f in values["custom_flags"])
    dims = values["dimensions"]
    data.update(
        {
            "dims-TOTAL_FORMS": str(len(dims)),
            # As the web page posts it: the rows are the formset's initial forms (extra forms
            # equal to their initial values would count as untouched and be dropped).
            "dims-INITIAL_FORMS": str(len(dims)),
            "dims-MIN_NUM_FORMS": "0",
            "dims-MAX_NUM_FORMS": "1000",
        }
    )
    for n, d in enumerate(dims):
        data[f"dims-{n}-key"] = d["key"]
        data[f"dims-{n}-name"] = d["name"]
        data[f"dims-{n}-description"] = d.get("description", "")
        for point in ("1", "4", "7"):
            data[f"dims-{n}-anchor_{point}"] = (d.get("anchors") or {}).get(point, "")
    return data


def _rename(name: str) -> str:
    if name.startswith("dims-"):
        _, n, field = name.split("-", 2)
        if field.startswith("anchor_"):
            return f"dimensions.{n}.anchors.{field.removeprefix('anchor_')}"
        return f"dimensions.{n}.{field}"
    return name


def validated_settings(values: dict, *, project: Project | None = None) -> dict:
    """Run the web's ProjectForm and rubric formset over the values; return service kwargs."""
    data = _form_data(values)
    if project is None:
        form = ProjectForm(data)
        formset = dimension_formset(data)
    else:
        form = ProjectForm(
            data, instance=copy.copy(project), initial={}, mode_locked=project.items.exists()
        )
        formset = dimension_formset(data, dimensions=project.active_dimensions())
    valid = form.is_valid()
    if not formset.is_valid() or not valid:
        errors = form_errors(form, _rename)
        for n, f in enumerate(formset.forms):
            for name, messages in f.errors.items():
                errors.detail.setdefault(_rename(f"dims-{n}-{name}"), []).extend(messages)
        for message in formset.non_form_errors():
            errors.detail.setdefault("dimensions", []).append(message)
        raise errors
    cleaned = form.cleaned_data
    if project is not None and form.mode_locked and values["mode"] != project.mode:
        raise from_django(
            DjangoValidationError({"mode": "The mode cannot change once the project has items."})
        )
    return {
        "name": cleaned["name"],
        "mode": cleaned["mode"],
        "guidelines": cleaned["guidelines"],
        "scores_required": cleaned["scores_required"],
        "rationale_policy": cleaned["rationale_policy"],
        "lease_minutes": cleaned["lease_minutes"],
        "overlap": cleaned["overlap"],
        "dimensions": formset.dimensions(),
        "base_flag_keys": cleaned["base_flags"],
        "custom_flags": cleaned["custom_flags"],
    }


# --- views ---------------------------------------------------------------------------------------


class ProjectList(ListView):
    serializer_class = ProjectSerializer
    filter_backends = [OrderingFilter]
    ordering_fields = ["id"]
    ordering = ["-id"]

    def get_queryset(self):
        projects = projects_of(self.request.user)
        role = self.request.query_params.get("role")
        if role:
            projects = projects.filter(memberships__user=self.request.user, memberships__role=role)
        return projects

    @extend_schema(
        summary="Your projects",
        parameters=[
            OpenApiParameter("role", enum=Membership.Role.values, description="Only this role."),
        ],
        responses=ProjectSerializer(many=True),
    )
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        roles = dict(
            Membership.objects.filter(
                user=request.user, project__in=[p.pk for p in page]
            ).values_list("project", "role")
        )
        data = ProjectSerializer(page, many=True, context={"roles": roles}).data
        return self.get_paginated_response(data)

    @extend_schema(
        summary="Create a project (you become its lead)",
        request=ProjectWriteSerializer,
        responses={201: ProjectSerializer},
    )
    def post(self, request):
        if not request.user.has_perm("projects.add_project"):
            raise PermissionDenied
        body = ProjectWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = {**_defaults(), **body.validated_data}
        kwargs = validated_settings(values)
        project = create_project(created_by=request.user, **kwargs)
        return Response(project_payload(project, request.user), status=status.HTTP_201_CREATED)


class ProjectDetail(ApiView):
    serializer_class = ProjectSerializer

    @extend_schema(summary="A project you are a member of", responses=ProjectSerializer)
    def get(self, request, slug: str):
        project, _ = self.project()
        return Response(project_payload(project, request.user))

    @extend_schema(
        summary="Change a project's settings, guidelines, rubric or flags (leads)",
        request=ProjectWriteSerializer(partial=True),
        responses=ProjectSerializer,
    )
    def patch(self, request, slug: str):
        project, _ = self.project(LEAD)
        body = ProjectWriteSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        values = {**_current_values(project), **body.validated_data}
        kwargs = validated_settings(values, project=project)
        saved = update_project(project=project, by=request.user, **kwargs)
        return Response(project_payload(saved, request.user))


# --- stats ---------------------------------------------------------------------------------------


class TrainerStatsSerializer(serializers.Serializer):
    trainer = serializers.CharField(help_text="Username for leads; a pseudonym for researchers.")
    judgments = serializers.IntegerField()
    late = serializers.IntegerField()
    skipped = serializers.IntegerField()
    gold_answered = serializers.IntegerField()
    gold_correct = serializers.IntegerField()
    median_time_ms = serializers.IntegerField(allow_null=True)


class StatsSerializer(serializers.Serializer):
    prompts = serializers.IntegerField()
    items = serializers.IntegerField()
    judged = serializers.IntegerField(help_text="Items with at least one submitted judgment.")
    remaining = serializers.IntegerField()
    judgments_today = serializers.IntegerField()
    judgments = serializers.IntegerField(allow_null=True)
    late_judgments = serializers.IntegerField(allow_null=True)
    skipped = serializers.IntegerField(allow_null=True)
    open_leases = serializers.IntegerField(allow_null=True)
    gold_accuracy = serializers.FloatField(allow_null=True)
    trainers = TrainerStatsSerializer(many=True, allow_null=True)


class ProjectStats(ApiView):
    serializer_class = StatsSerializer

    @extend_schema(
        summary="Progress and quality figures",
        description="Counts for every member; judgment, gold and per-trainer figures for "
        "leads and researchers (null for trainers).",
        responses=StatsSerializer,
    )
    def get(self, request, slug: str):
        project, membership = self.project()
        data: dict = {
            **project_counts(project=project),
            "judgments": None,
            "late_judgments": None,
            "skipped": None,
            "open_leases": None,
            "gold_accuracy": None,
            "trainers": None,
        }
        if membership.role in READERS:
            data.update(_quality(project, show_names=membership.role == LEAD))
        return Response(StatsSerializer(data).data)


def _quality(project: Project, *, show_names: bool) -> dict:
    judgments = Judgment.objects.filter(assignment__item__project=project)
    totals = judgments.aggregate(
        n=Count("pk"),
        late=Count("pk", filter=Q(counts=False)),
        gold=Count("pk", filter=Q(gold_correct__isnull=False)),
        gold_ok=Count("pk", filter=Q(gold_correct=True)),
    )
    assignments = Assignment.objects.filter(item__project=project)
    per_trainer = (
        assignments.values("trainer_id", "trainer__username")
        .annotate(
            judgments=Count("judgment"),
            late=Count("judgment", filter=Q(judgment__counts=False)),
            skipped=Count("pk", filter=Q(status=Assignment.Status.SKIPPED)),
            gold_answered=Count("judgment", filter=Q(judgment__gold_correct__isnull=False)),
            gold_correct=Count("judgment", filter=Q(judgment__gold_correct=True)),
        )
        .order_by("trainer__username")
    )
    times: dict[int, list[int]] = {}
    for trainer_id, ms in judgments.values_list("assignment__trainer_id", "time_spent_ms"):
        times.setdefault(trainer_id, []).append(ms)
    trainers = []
    for row in per_trainer:
        spent = sorted(times.get(row["trainer_id"], []))
        trainers.append(
            {
                "trainer": row["trainer__username"] if show_names else pseudonym(row["trainer_id"]),
                "judgments": row["judgments"],
                "late": row["late"],
                "skipped": row["skipped"],
                "gold_answered": row["gold_answered"],
                "gold_correct": row["gold_correct"],
                "median_time_ms": spent[len(spent) // 2] if spent else None,
            }
        )
    return {
        "judgments": totals["n"],
        "late_judgments": totals["late"],
        "skipped": assignments.filter(status=Assignment.Status.SKIPPED).count(),
        "open_leases": assignments.filter(status=Assignment.Status.LEASED).count(),
        "gold_accuracy": totals["gold_ok"] / totals["gold"] if totals["gold"] else None,
        "trainers": trainers,
    }
