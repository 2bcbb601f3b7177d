"""Judgments: read, filtered, by a project's leads and researchers."""

from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response

from labeling.datasets.pseudonyms import pseudonym
from labeling.judging.models import Judgment

from .permissions import LEAD, READERS, ApiView, ListView, query_int


class ScoreSerializer(serializers.Serializer):
    candidate = serializers.IntegerField()
    dimension = serializers.CharField(help_text="The dimension's key.")
    value = serializers.IntegerField(min_value=1, max_value=7)


class CandidateFlagSerializer(serializers.Serializer):
    candidate = serializers.IntegerField()
    key = serializers.CharField()


class JudgmentSerializer(serializers.ModelSerializer):
    """A judgment, in candidate ids (never screen positions)."""

    assignment = serializers.UUIDField(source="assignment.code")
    item = serializers.IntegerField(source="assignment.item_id")
    trainer = serializers.SerializerMethodField(
        help_text="Your own username on your judgments; the username for leads; "
        "a pseudonym (as in exports) for researchers."
    )
    preferred = serializers.IntegerField(source="preferred_id", allow_null=True)
    ranking = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()), allow_null=True
    )
    shown_order = serializers.ListField(child=serializers.IntegerField())
    scores = serializers.SerializerMethodField()
    flags = serializers.SerializerMethodField()

    class Meta:
        model = Judgment
        fields = [
            "id",
            "assignment",
            "item",
            "trainer",
            "preferred",
            "strength",
            "ranking",
            "all_bad",
            "scores",
            "flags",
            "rationale",
            "time_spent_ms",
            "shown_order",
            "guideline_version",
            "counts",
            "gold_correct",
            "review_status",
            "review_comment",
            "created_at",
            "updated_at",
        ]

    def get_trainer(self, judgment: Judgment) -> str:
        trainer = judgment.assignment.trainer
        if self.context.get("show_names", True):
            return trainer.username
        return pseudonym(trainer.pk)

    @extend_schema_field(ScoreSerializer(many=True))
    def get_scores(self, judgment: Judgment) -> list[dict]:
        return [
            {"candidate": s.candidate_id, "dimension": s.dimension.key, "value": s.value}
            for s in sorted(judgment.scores.all(), key=lambda s: (s.candidate_id, s.dimension_id))
        ]

    @extend_schema_field(CandidateFlagSerializer(many=True))
    def get_flags(self, judgment: Judgment) -> list[dict]:
        return [
            {"candidate": f.candidate_id, "key": f.key}
            for f in sorted(judgment.flags.all(), key=lambda f: (f.candidate_id, f.key))
        ]


def judgment_queryset():
    return Judgment.objects.select_related("assignment__trainer").prefetch_related(
        "scores__dimension", "flags"
    )


def judgment_payload(judgment: Judgment, *, show_names: bool = True) -> dict:
    judgment = judgment_queryset().get(pk=judgment.pk)
    return JudgmentSerializer(judgment, context={"show_names": show_names}).data


class JudgmentList(ListView):
    serializer_class = JudgmentSerializer
    filter_backends = [OrderingFilter]
    ordering_fields = ["id"]
    ordering = ["-id"]

    def get_queryset(self):
        project, membership = self.project(*READERS)
        self.show_names = membership.role == LEAD
        judgments = judgment_queryset().filter(assignment__item__project=project)
        params = self.request.query_params
        if params.get("item"):
            judgments = judgments.filter(assignment__item_id=query_int(params["item"], "item"))
        if params.get("trainer"):
            if self.show_names:
                judgments = judgments.filter(assignment__trainer__username=params["trainer"])
            else:
                ids = judgments.values_list("assignment__trainer_id", flat=True).distinct()
                wanted = [i for i in ids if pseudonym(i) == params["trainer"]]
                judgments = judgments.filter(assignment__trainer_id__in=wanted)
        if params.get("guideline_version"):
            judgments = judgments.filter(
                guideline_version=query_int(params["guideline_version"], "guideline_version")
            )
        for name in ("counts", "all_bad"):
            if params.get(name) in ("true", "false"):
                judgments = judgments.filter(**{name: params[name] == "true"})
        if params.get("gold") in ("true", "false"):
            judgments = judgments.filter(gold_correct__isnull=params["gold"] == "false")
        if params.get("review_status") is not None:
            judgments = judgments.filter(review_status=params["review_status"])
        for name, lookup in (("created_after", "gte"), ("created_before", "lt")):
            if params.get(name):
                when = parse_datetime(params[name])
                if when is None:
                    raise exceptions.ValidationError({name: ["An ISO 8601 date-time."]})
                judgments = judgments.filter(**{f"created_at__{lookup}": when})
        return judgments

    @extend_schema(
        summary="A project's judgments (leads, researchers)",
        parameters=[
            OpenApiParameter("item", int),
            OpenApiParameter("trainer", str, description="Username (leads) or pseudonym."),
            OpenApiParameter("guideline_version", int),
            OpenApiParameter("counts", bool, description="false: late judgments only."),
            OpenApiParameter("all_bad", bool),
            OpenApiParameter("gold", bool, description="Judgments of gold items."),
            OpenApiParameter("review_status", enum=["", "accepted", "returned"]),
            OpenApiParameter("created_after", str, description="ISO 8601, inclusive."),
            OpenApiParameter("created_before", str, description="ISO 8601, exclusive."),
        ],
    )
    def get(self, request, slug: str):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        data = JudgmentSerializer(page, many=True, context={"show_names": self.show_names}).data
        return self.get_paginated_response(data)


class JudgmentDetail(ApiView):
    serializer_class = JudgmentSerializer

    @extend_schema(summary="One judgment (leads, researchers)")
    def get(self, request, slug: str, pk: int):
        project, membership = self.project(*READERS)
        judgment = judgment_queryset().filter(assignment__item__project=project, pk=pk).first()
        if judgment is None:
            raise exceptions.NotFound()
        context = {"show_names": membership.role == LEAD}
        return Response(JudgmentSerializer(judgment, context=context).data)
