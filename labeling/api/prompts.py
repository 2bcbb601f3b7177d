"""Prompts: bulk import (the web's import service: same checks, same atomicity) and lists of
prompts and items with filters."""

from django.conf import settings
from django.db.models import Exists, OuterRef
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.filters import OrderingFilter
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from labeling.judging.models import Item
from labeling.projects.importing import (
    ImportFileError,
    RowError,
    describe_batch,
    import_prompts,
)
from labeling.projects.models import Candidate, ImportBatch, Prompt

from .errors import PayloadTooLarge
from .permissions import LEAD, READERS, ApiView, ListView, query_int

IMPORT_REJECTED = "The file was rejected; nothing was imported."


class CandidateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Candidate
        fields = ["id", "text", "model_name", "metadata", "created_at"]


class MessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=["system", "user", "assistant"])
    content = serializers.CharField()


class PromptSerializer(serializers.ModelSerializer):
    messages = MessageSerializer(many=True)
    candidates = CandidateSerializer(many=True)
    batch = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = Prompt
        fields = [
            "id",
            "external_id",
            "messages",
            "consent",
            "metadata",
            "batch",
            "candidates",
            "created_at",
        ]


class RowErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField(allow_null=True, help_text="null: the file as a whole")
    field = serializers.CharField(allow_null=True)
    message = serializers.CharField()
    text = serializers.CharField(help_text="The error as the web page words it.")


class ImportRejectedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    errors = RowErrorSerializer(many=True)


class ImportBatchSerializer(serializers.ModelSerializer):
    summary = serializers.SerializerMethodField()

    class Meta:
        model = ImportBatch
        fields = [
            "id",
            "filename",
            "prompts_created",
            "candidates_created",
            "items_created",
            "skipped",
            "summary",
            "created_at",
        ]

    def get_summary(self, batch: ImportBatch) -> str:
        return describe_batch(batch)


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=".jsonl (one JSON object per line) or .csv")


class PromptImport(ApiView):
    """Multipart upload (field `file`), like the web page's form."""

    parser_classes = [MultiPartParser]
    serializer_class = ImportBatchSerializer

    @extend_schema(
        summary="Import prompts from a JSONL or CSV file (leads)",
        description="The whole file is checked first; on any error nothing is imported and "
        "up to 20 errors are listed by line and field, exactly as on the web import page.",
        request={"multipart/form-data": ImportUploadSerializer},
        responses={201: ImportBatchSerializer, 400: ImportRejectedSerializer},
    )
    def post(self, request, slug: str):
        project, _ = self.project(LEAD)
        upload = request.FILES.get("file")
        if upload is None:
            return _rejected([RowError(None, "file", "no file was submitted")])
        if upload.size is not None and upload.size > settings.IMPORT_MAX_BYTES:
            raise PayloadTooLarge(
                f"The file is larger than the limit of {settings.IMPORT_MAX_BYTES:,} bytes."
            )
        try:
            batch = import_prompts(
                project=project, fileobj=upload, filename=upload.name or "", by=request.user
            )
        except ImportFileError as exc:
            return _rejected(exc.errors)
        return Response(ImportBatchSerializer(batch).data, status=status.HTTP_201_CREATED)


def _rejected(errors: list[RowError]) -> Response:
    body = {
        "detail": IMPORT_REJECTED,
        "code": "import_rejected",
        "errors": [
            {"line": e.line, "field": e.field, "message": e.message, "text": str(e)} for e in errors
        ],
    }
    return Response(body, status=status.HTTP_400_BAD_REQUEST)


class PromptList(ListView):
    serializer_class = PromptSerializer
    filter_backends = [OrderingFilter]
    ordering_fields = ["id"]
    ordering = ["-id"]

    def get_queryset(self):
        project, _ = self.project(*READERS)
        prompts = project.prompts.prefetch_related("candidates")
        params = self.request.query_params
        if params.get("external_id"):
            prompts = prompts.filter(external_id=params["external_id"])
        if params.get("consent"):
            prompts = prompts.filter(consent=params["consent"])
        if params.get("batch"):
            prompts = prompts.filter(batch_id=query_int(params["batch"], "batch"))
        if params.get("has_candidates") in ("true", "false"):
            has = Exists(Candidate.objects.filter(prompt=OuterRef("pk")))
            prompts = prompts.filter(has if params["has_candidates"] == "true" else ~has)
        if params.get("contains"):
            prompts = prompts.filter(messages__icontains=params["contains"])
        return prompts

    @extend_schema(
        summary="A project's prompts with their candidates (leads, researchers)",
        parameters=[
            OpenApiParameter("external_id", str),
            OpenApiParameter("consent", enum=Prompt.Consent.values),
            OpenApiParameter("batch", int, description="An import's id."),
            OpenApiParameter("has_candidates", bool),
            OpenApiParameter("contains", str, description="Text anywhere in the conversation."),
        ],
    )
    def get(self, request, slug: str):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(PromptSerializer(page, many=True).data)


class ItemSerializer(serializers.ModelSerializer):
    queue = serializers.CharField(source="queue.name")
    prompt = serializers.IntegerField(source="prompt_id")
    candidates = serializers.SerializerMethodField()

    class Meta:
        model = Item
        fields = [
            "id",
            "prompt",
            "queue",
            "candidates",
            "priority",
            "n_judgments",
            "n_leases",
            "open_slots",
            "is_gold",
            "created_at",
        ]

    def get_candidates(self, item: Item) -> list[int]:
        return [slot.candidate_id for slot in item.slots.all()]


class ItemList(ListView):
    serializer_class = ItemSerializer
    filter_backends = [OrderingFilter]
    ordering_fields = ["id"]
    ordering = ["-id"]

    def get_queryset(self):
        project, _ = self.project(*READERS)
        items = Item.objects.filter(project=project).select_related("queue")
        items = items.prefetch_related("slots")
        params = self.request.query_params
        if params.get("queue"):
            items = items.filter(queue__name=params["queue"])
        if params.get("prompt"):
            items = items.filter(prompt_id=query_int(params["prompt"], "prompt"))
        if params.get("is_gold") in ("true", "false"):
            items = items.filter(is_gold=params["is_gold"] == "true")
        if params.get("open") in ("true", "false"):
            items = (
                items.filter(open_slots__gt=0)
                if params["open"] == "true"
                else items.filter(open_slots=0)
            )
        return items

    @extend_schema(
        summary="A project's items (leads, researchers)",
        parameters=[
            OpenApiParameter("queue", str, description="A queue's name."),
            OpenApiParameter("prompt", int),
            OpenApiParameter("is_gold", bool),
            OpenApiParameter("open", bool, description="Still has open slots."),
        ],
    )
    def get(self, request, slug: str):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(ItemSerializer(page, many=True).data)
