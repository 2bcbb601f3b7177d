"""The trainer's loop over the API: next item, submit (idempotent), skip.

Answers are validated by the web's JudgmentForm: the JSON body is turned into the form's
fields (which carry candidate ids), so both doors apply exactly the same rules.
"""

from django.db import IntegrityError, transaction
from django.utils.datastructures import MultiValueDict
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from labeling.judging import selectors, services
from labeling.judging.forms import SAME, SKIP_REASONS, JudgmentForm, SkipForm, score_field
from labeling.judging.models import Assignment
from labeling.projects.models import Project

from .errors import Conflict, form_errors, invalid
from .judgments import JudgmentSerializer, judgment_payload
from .models import IdempotentRequest
from .permissions import TRAINER, ApiView

IDEMPOTENCY_HEADER = "Idempotency-Key"


# --- what a trainer sees -------------------------------------------------------------------------


class ShownCandidateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField(help_text="The screen label: A, B, C, …")
    text = serializers.CharField()


class RubricDimensionSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    anchors = serializers.DictField(child=serializers.CharField())


class ProjectFlagSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    kind = serializers.CharField()


class AssignmentSerializer(serializers.ModelSerializer):
    project = serializers.CharField(source="item.project.slug")
    mode = serializers.CharField(source="item.project.mode")
    messages = serializers.JSONField(source="item.prompt.messages")
    candidates = serializers.SerializerMethodField(help_text="In the order this trainer sees.")
    dimensions = serializers.SerializerMethodField()
    flags = serializers.SerializerMethodField()
    scores_required = serializers.BooleanField(source="item.project.scores_required")
    rationale_policy = serializers.CharField(source="item.project.rationale_policy")
    guidelines_version = serializers.IntegerField(source="item.project.guidelines_version")
    review_comment = serializers.SerializerMethodField()

    class Meta:
        model = Assignment
        fields = [
            "code",
            "project",
            "mode",
            "status",
            "lease_expires_at",
            "messages",
            "candidates",
            "dimensions",
            "flags",
            "scores_required",
            "rationale_policy",
            "guidelines_version",
            "review_comment",
        ]

    @extend_schema_field(ShownCandidateSerializer(many=True))
    def get_candidates(self, assignment: Assignment) -> list[dict]:
        texts = dict(assignment.item.candidates.values_list("pk", "text"))
        return [
            {"id": cid, "label": chr(ord("A") + n), "text": texts.get(cid, "")}
            for n, cid in enumerate(assignment.display_order)
        ]

    @extend_schema_field(RubricDimensionSerializer(many=True))
    def get_dimensions(self, assignment: Assignment) -> list[dict]:
        return [
            {"key": d.key, "name": d.name, "description": d.description, "anchors": d.anchors}
            for d in assignment.item.project.active_dimensions()
        ]

    @extend_schema_field(ProjectFlagSerializer(many=True))
    def get_flags(self, assignment: Assignment) -> list[dict]:
        return list(assignment.item.project.flags.values("key", "label", "kind"))

    def get_review_comment(self, assignment: Assignment) -> str:
        if assignment.status != Assignment.Status.RETURNED:
            return ""
        return assignment.judgment.review_comment


class NextWorkSerializer(serializers.Serializer):
    assignment = AssignmentSerializer(allow_null=True)
    reason = serializers.CharField(help_text="Why there is no work, when it is not just empty.")
    today = serializers.IntegerField(help_text="Your judgments in this project today.")
    waiting = serializers.IntegerField(help_text="Items you could still take.")


class NextWork(ApiView):
    serializer_class = NextWorkSerializer

    @extend_schema(
        summary="Claim your next item (trainers)",
        description="Returns your open lease if you hold one, else leases the best next item. "
        "`assignment` is null when there is nothing for you.",
        request=None,
        responses=NextWorkSerializer,
    )
    def post(self, request, slug: str):
        project, membership = self.project(TRAINER)
        if services.notice_pending(user=request.user, membership=membership):
            raise Conflict(
                "Confirm you are 18 or older and accept the project's content notice first "
                f"(in the browser, at /p/{project.slug}/notice/).",
                code="notice_required",
            )
        assignment = services.claim_next(trainer=request.user, project=project)
        if assignment is not None:
            assignment = selectors.get_assignment_for(request.user, assignment.code)
        return Response(_next_payload(request.user, project, assignment))


def _next_payload(user, project: Project, assignment: Assignment | None) -> dict:
    return {
        "assignment": AssignmentSerializer(assignment).data if assignment else None,
        "reason": "" if assignment else services.why_no_work(user, project),
        "today": selectors.judged_today(user, project),
        "waiting": selectors.waiting_for(user, project),
    }


class AssignmentDetail(ApiView):
    serializer_class = AssignmentSerializer

    @extend_schema(summary="One of your assignments (trainers)")
    def get(self, request, code):
        return Response(AssignmentSerializer(selectors.get_assignment_for(request.user, code)).data)


# --- submit --------------------------------------------------------------------------------------


class AnswerSerializer(serializers.Serializer):
    """A judgment in candidate ids. Pairs: `preferred` + `strength`; rankings: `ranks`."""

    preferred = serializers.IntegerField(
        required=False, allow_null=True, help_text="The better candidate; null when the same."
    )
    strength = serializers.IntegerField(
        required=False, min_value=0, max_value=3, help_text="0 about the same … 3 much better."
    )
    ranks = serializers.DictField(
        child=serializers.IntegerField(min_value=1, max_value=9),
        required=False,
        help_text='Ranking projects: {"<candidate id>": rank}, 1 is best, ties allowed.',
    )
    scores = serializers.DictField(
        child=serializers.DictField(child=serializers.IntegerField(min_value=1, max_value=7)),
        required=False,
        help_text='{"<candidate id>": {"<dimension key>": 1..7}}',
    )
    flags = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField(max_length=40)),
        required=False,
        help_text='{"<candidate id>": ["<flag key>", …]}',
    )
    all_bad = serializers.BooleanField(required=False, default=False)
    rationale = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    elapsed_ms = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1)
    client_key = serializers.CharField(
        required=False,
        max_length=200,
        help_text=f"Same as the {IDEMPOTENCY_HEADER} header, for clients that cannot set one.",
    )


def _form_data(answer: dict, assignment: Assignment, dimensions) -> MultiValueDict:
    """Turn the JSON answer into the web form's fields; reject ids and keys not on screen."""
    shown = {str(cid) for cid in assignment.display_order}
    dim_keys = {d.key for d in dimensions}
    errors: dict[str, list[str]] = {}
    for field in ("scores", "flags", "ranks"):
        for cid in answer.get(field) or {}:
            if cid not in shown:
                errors.setdefault(f"{field}.{cid}", []).append("Not a candidate of this item.")
    for cid, by_dim in (answer.get("scores") or {}).items():
        for key in by_dim:
            if key not in dim_keys:
                errors.setdefault(f"scores.{cid}.{key}", []).append("Not a rubric dimension.")
    data = MultiValueDict()
    mode = assignment.item.project.mode
    if mode == Project.Mode.PAIRWISE:
        if "ranks" in answer:
            errors.setdefault("ranks", []).append("This project compares pairs: use preferred.")
        strength, preferred = answer.get("strength"), answer.get("preferred")
        if strength == 0:
            if preferred is not None:
                errors.setdefault("preferred", []).append("Must be null when strength is 0.")
            data["preference"] = SAME
        elif strength is not None or preferred is not None:
            if strength is None:
                errors.setdefault("strength", []).append("Say how much better (1–3).")
            elif preferred is None:
                errors.setdefault("preferred", []).append("Say which candidate is better.")
            else:
                data["preference"] = f"{preferred}:{strength}"
    else:
        for name in ("preferred", "strength"):
            if answer.get(name) is not None:
                errors.setdefault(name, []).append("This project ranks responses: use ranks.")
        for cid, rank in (answer.get("ranks") or {}).items():
            data[f"rank-{cid}"] = str(rank)
    for cid, by_dim in (answer.get("scores") or {}).items():
        for key, value in by_dim.items():
            data[score_field(cid, key)] = str(value)
    for cid, keys in (answer.get("flags") or {}).items():
        data.setlist(f"flags-{cid}", list(keys))
    data["all_bad"] = "true" if answer.get("all_bad") else "false"
    data["rationale"] = answer.get("rationale", "")
    if answer.get("elapsed_ms") is not None:
        data["elapsed_ms"] = str(answer["elapsed_ms"])
    if errors:
        raise invalid(errors)
    return data


def _rename(name: str) -> str:
    """Form field names back to the JSON body's paths."""
    if name == "preference":
        return "preferred"
    if name.startswith("score-"):
        _, cid, key = name.split("-", 2)
        return f"scores.{cid}.{key}"
    for prefix, field in (("rank-", "ranks"), ("flags-", "flags")):
        if name.startswith(prefix):
            return f"{field}.{name.removeprefix(prefix)}"
    return name


def _replay(user, key: str, signature: str) -> Response | None:
    record = IdempotentRequest.objects.filter(user=user, key=key).first()
    if record is None:
        return None
    if record.request != signature:
        raise Conflict(
            f"This {IDEMPOTENCY_HEADER} was used for another request.",
            code="idempotency_key_reused",
        )
    return Response(record.body, status=record.status, headers={"Idempotent-Replayed": "true"})


def _remember(user, key: str, signature: str, status_code: int, body: dict) -> None:
    try:
        with transaction.atomic():
            IdempotentRequest.objects.get_or_create(
                user=user,
                key=key,
                defaults={"request": signature, "status": status_code, "body": body},
            )
    except IntegrityError:
        pass  # a concurrent retry stored the same answer first


class SubmitJudgment(ApiView):
    serializer_class = AnswerSerializer

    @extend_schema(
        summary="Submit your judgment of an assignment (trainers); idempotent",
        description=(
            "Validated by the same rules as the labeling screen. Send an "
            f"`{IDEMPOTENCY_HEADER}` header (or `client_key`): a retried request with the same "
            "key gets the first response again (same status, same body). Without a key, a "
            "second submit of the same assignment returns the stored judgment with 200. "
            "If your lease had lapsed and others completed the item meanwhile, the answer is "
            "409 with code `late_judgment`: the judgment is stored as a late one (in `judgment`, "
            "with `counts: false`), kept for the lead and not counted."
        ),
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER, str, OpenApiParameter.HEADER, description="Any unique string."
            )
        ],
        request=AnswerSerializer,
        responses={201: JudgmentSerializer, 200: JudgmentSerializer},
    )
    def post(self, request, code):
        assignment = selectors.get_assignment_for(request.user, code)
        body = AnswerSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        answer = body.validated_data
        key = request.headers.get(IDEMPOTENCY_HEADER) or answer.get("client_key") or ""
        key = key[:200]
        signature = f"POST {request.path}"
        if key:
            replay = _replay(request.user, key, signature)
            if replay is not None:
                return replay
        if assignment.status == Assignment.Status.SUBMITTED:
            # A retried request without a key: the judgment is stored already.
            return Response(judgment_payload(assignment.judgment), status=status.HTTP_200_OK)
        project = assignment.item.project
        dimensions = list(project.active_dimensions())
        form = JudgmentForm(
            _form_data(answer, assignment, dimensions),
            assignment=assignment,
            dimensions=dimensions,
            flags=project.flags.all(),
        )
        if not form.is_valid():
            raise form_errors(form, _rename)
        try:
            judgment = services.submit_judgment(
                trainer=request.user, assignment=assignment, answer=form.answer()
            )
        except services.AssignmentClosed as exc:
            raise Conflict(str(exc), code="assignment_closed") from None
        payload = judgment_payload(judgment)
        code = status.HTTP_201_CREATED
        if not judgment.counts:
            # Stored for the lead, but the item was completed meanwhile: the client must know.
            payload = {
                "detail": services.LATE_JUDGMENT,
                "code": "late_judgment",
                "judgment": payload,
            }
            code = status.HTTP_409_CONFLICT
        if key:
            _remember(request.user, key, signature, code, payload)
        return Response(payload, status=code)


# --- skip ----------------------------------------------------------------------------------------


class SkipSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=SKIP_REASONS)
    note = serializers.CharField(required=False, allow_blank=True, max_length=250)


class SkippedSerializer(serializers.Serializer):
    code = serializers.UUIDField()
    status = serializers.CharField()
    skip_reason = serializers.CharField()


class SkipAssignment(ApiView):
    serializer_class = SkipSerializer

    @extend_schema(
        summary="Give an item back with a reason (trainers)",
        request=SkipSerializer,
        responses=SkippedSerializer,
    )
    def post(self, request, code):
        assignment = selectors.get_assignment_for(request.user, code)
        body = SkipSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        form = SkipForm(body.validated_data)
        if not form.is_valid():
            raise form_errors(form)
        try:
            skipped = services.skip_assignment(
                trainer=request.user, assignment=assignment, reason=form.reason_text()
            )
        except services.AssignmentClosed as exc:
            raise Conflict(str(exc), code="assignment_closed") from None
        return Response(
            {"code": skipped.code, "status": skipped.status, "skip_reason": skipped.skip_reason}
        )
