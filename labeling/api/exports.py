"""Exports (leads, researchers): start one, poll it, list them, download its files.

Downloads stream from the exports storage with an exact Content-Length, a Content-Disposition
naming the file, and byte ranges (`Range: bytes=a-b`, 206) when the storage can seek.
"""

import re
from dataclasses import fields as dataclass_fields

from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, serializers, status
from rest_framework.filters import OrderingFilter
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response

from labeling.datasets.archive import archive_response, archive_root
from labeling.datasets.models import Export
from labeling.datasets.options import (
    AGGREGATES,
    EXPANSIONS,
    FILE_TYPES,
    FLAG_EXCLUSIONS,
    FORMATS,
    ExportOptions,
    OptionsError,
)
from labeling.datasets.services import (
    ExportWithdrawn,
    allow_download,
    exports_storage,
    options_for,
    restart_export,
    start_export,
)

from .errors import Conflict, invalid
from .permissions import READERS, ApiView, ListView

CHUNK = 1 << 16
RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
OPTION_NAMES = {f.name for f in dataclass_fields(ExportOptions)}


# --- serializers ---------------------------------------------------------------------------------


class ExportOptionsSerializer(serializers.Serializer):
    """What to build. Every field is optional; the defaults are shown. Checked by the same
    rules as the web form (labeling.datasets.options)."""

    format = serializers.ChoiceField(choices=list(FORMATS), default="trl_explicit")
    file_type = serializers.ChoiceField(choices=list(FILE_TYPES), default="jsonl")
    preference = serializers.CharField(
        default="overall", help_text="overall, combined, or a rubric dimension's key."
    )
    combine_primary = serializers.CharField(default="harmlessness")
    combine_threshold = serializers.IntegerField(default=2, min_value=1, max_value=6)
    combine_fallback = serializers.CharField(default="helpfulness")
    expansion = serializers.ChoiceField(choices=list(EXPANSIONS), default="all_pairs")
    aggregate = serializers.ChoiceField(choices=list(AGGREGATES), default="majority")
    ties = serializers.ChoiceField(choices=["drop", "keep"], default="drop")
    both_bad = serializers.ChoiceField(choices=["drop", "keep"], default="drop")
    margins = serializers.DictField(
        child=serializers.FloatField(), required=False, help_text='{"0": 0, "1": 0.33, …}'
    )
    kto_dimension = serializers.CharField(default="mean")
    kto_threshold = serializers.FloatField(default=5.0, min_value=1, max_value=7)
    min_judgments = serializers.IntegerField(default=1, min_value=1, max_value=1000)
    min_agreement = serializers.FloatField(default=0.0, min_value=0, max_value=1)
    exclude_skipped = serializers.BooleanField(default=False)
    exclude_flagged = serializers.ChoiceField(choices=list(FLAG_EXCLUSIONS), default="none")
    min_gold_accuracy = serializers.FloatField(
        required=False, allow_null=True, min_value=0, max_value=1
    )
    date_from = serializers.DateField(required=False, allow_null=True)
    date_to = serializers.DateField(required=False, allow_null=True)
    guideline_versions = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**31 - 1), required=False
    )
    models = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=100
    )
    include_gold = serializers.BooleanField(default=False)
    include_late = serializers.BooleanField(default=False)
    provenance = serializers.BooleanField(default=False)
    test_ratio = serializers.FloatField(default=0.1, min_value=0, max_value=0.9)
    seed = serializers.IntegerField(default=0, min_value=0, max_value=2**31 - 1)
    batch_size = serializers.IntegerField(default=1000, min_value=1, max_value=100_000)
    throttle_ms = serializers.IntegerField(default=0, min_value=0, max_value=60_000)


class ExportFileSerializer(serializers.Serializer):
    name = serializers.CharField()
    split = serializers.CharField(allow_null=True, help_text="train / test; null for the card.")
    rows = serializers.IntegerField(allow_null=True)
    bytes = serializers.IntegerField(allow_null=True)
    sha256 = serializers.CharField(allow_null=True)
    url = serializers.CharField(help_text="Where to download it (this API).")


class ExportSerializer(serializers.ModelSerializer):
    options = serializers.DictField()
    counts = serializers.DictField()
    percent = serializers.IntegerField()
    files = serializers.SerializerMethodField()
    archive_url = serializers.SerializerMethodField()

    class Meta:
        model = Export
        fields = [
            "version",
            "status",
            "format",
            "file_type",
            "options",
            "progress_done",
            "progress_total",
            "percent",
            "error",
            "files",
            "archive_url",
            "counts",
            "total_bytes",
            "fingerprint",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field(ExportFileSerializer(many=True))
    def get_files(self, export: Export) -> list[dict]:
        if export.status != Export.Status.DONE:
            return []
        base = f"/api/v1/projects/{export.project.slug}/exports/{export.version}/files/"
        return [
            {
                "name": f["name"],
                "split": f.get("split"),
                "rows": f.get("rows"),
                "bytes": f.get("bytes"),
                "sha256": f.get("sha256"),
                "url": base + f["name"],
            }
            for f in export.files
            if f.get("kind") != "index"
        ]

    def get_archive_url(self, export: Export) -> str | None:
        if export.status != Export.Status.DONE:
            return None
        return f"/api/v1/projects/{export.project.slug}/exports/{export.version}/archive/"


# --- views ---------------------------------------------------------------------------------------


class ExportList(ListView):
    serializer_class = ExportSerializer
    filter_backends = [OrderingFilter]
    ordering_fields = ["id"]
    ordering = ["-id"]

    def get_queryset(self):
        project, _ = self.project(*READERS)
        exports = project.exports.select_related("project")
        params = self.request.query_params
        if params.get("status"):
            exports = exports.filter(status=params["status"])
        if params.get("format"):
            exports = exports.filter(format=params["format"])
        return exports

    @extend_schema(
        summary="The project's exports, newest first (leads, researchers)",
        parameters=[
            OpenApiParameter("status", enum=Export.Status.values),
            OpenApiParameter("format", enum=list(FORMATS)),
        ],
    )
    def get(self, request, slug: str):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(ExportSerializer(page, many=True).data)

    @extend_schema(
        summary="Start an export: the next version, built by a worker (leads, researchers)",
        description="Poll the export until `status` is done or failed, then download `files`.",
        request=ExportOptionsSerializer,
        responses={201: ExportSerializer},
    )
    def post(self, request, slug: str):
        project, _ = self.project(*READERS)
        if not isinstance(request.data, dict):
            raise invalid("Send the options as a JSON object.")
        unknown = sorted(set(request.data) - OPTION_NAMES)
        if unknown:
            raise invalid({name: ["Unknown option."] for name in unknown})
        body = ExportOptionsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = {k: v for k, v in body.validated_data.items() if k in request.data}
        for name in ("date_from", "date_to"):
            if values.get(name) is not None:
                values[name] = values[name].isoformat()
        try:
            options = options_for(project=project, data=values)
        except OptionsError as exc:
            raise invalid(str(exc)) from None
        export = start_export(project=project, user=request.user, options=options)
        return Response(ExportSerializer(export).data, status=status.HTTP_201_CREATED)


class ExportView(ApiView):
    serializer_class = ExportSerializer

    def export(self) -> Export:
        project, _ = self.project(*READERS)
        export = project.exports.select_related("project").filter(version=self.kwargs["version"])
        found = export.first()
        if found is None:
            raise exceptions.NotFound()
        return found

    def done(self) -> Export:
        export = self.export()
        if export.status != Export.Status.DONE:
            raise Conflict("This export has no files yet.", code="export_not_ready")
        try:
            allow_download(export=export, user=self.request.user)
        except ExportWithdrawn as exc:
            raise Conflict(str(exc), code="export_withdrawn") from None
        return export


class ExportDetail(ExportView):
    @extend_schema(summary="One export: status, progress, files (leads, researchers)")
    def get(self, request, slug: str, version: int):
        return Response(ExportSerializer(self.export()).data)


class ExportRestart(ExportView):
    @extend_schema(
        summary="Run a failed or stalled export again (leads, researchers)",
        request=None,
        responses={200: ExportSerializer},
    )
    def post(self, request, slug: str, version: int):
        export = restart_export(export=self.export())
        if export.status != Export.Status.QUEUED:
            raise Conflict(
                "Only a failed or stalled export can be run again.", code="not_restartable"
            )
        return Response(ExportSerializer(export).data)


DOWNLOAD_RESPONSES = {
    (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY),
    (206, "application/octet-stream"): OpenApiResponse(
        OpenApiTypes.BINARY, description="The requested byte range."
    ),
    416: OpenApiResponse(description="The range is outside the file."),
}


class ExportFile(ExportView):
    @extend_schema(
        summary="Download one file of a finished export (leads, researchers)",
        description="Supports `Range: bytes=start-end` (one range); the ETag is the file's sha256.",
        parameters=[OpenApiParameter("Range", str, OpenApiParameter.HEADER)],
        responses=DOWNLOAD_RESPONSES,
    )
    def get(self, request, slug: str, version: int, name: str):
        export = self.done()
        entry = next(
            (f for f in export.files if f["name"] == name and f.get("kind") != "index"), None
        )
        if entry is None:
            raise exceptions.NotFound("No such file in this export.")
        storage = exports_storage()
        path = f"{export.folder}/{name}"
        filename = f"{archive_root(export)}-{name.replace('/', '-')}"
        return ranged_download(request, storage, path, filename, etag=entry.get("sha256"))


class ExportArchive(ExportView):
    @extend_schema(
        summary="Download a finished export as one .tar (leads, researchers)",
        responses={(200, "application/x-tar"): OpenApiResponse(OpenApiTypes.BINARY)},
    )
    def get(self, request, slug: str, version: int):
        export = self.done()
        return archive_response(export, exports_storage())


# --- byte ranges ---------------------------------------------------------------------------------


def parse_range(header: str | None, size: int) -> tuple[int, int] | None | bool:
    """(start, end) inclusive for one satisfiable range; None: send it all; False: 416."""
    if not header:
        return None
    match = RANGE_RE.match(header.strip())
    if match is None:
        return None  # several ranges or another unit: ignoring Range is allowed (RFC 9110)
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        n = int(last)
        if n == 0:
            return False
        return max(0, size - n), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        return False
    return start, end


def _chunks(fh, remaining: int):
    try:
        while remaining > 0 and (chunk := fh.read(min(CHUNK, remaining))):
            remaining -= len(chunk)
            yield chunk
    finally:
        fh.close()


def ranged_download(request, storage, path: str, filename: str, *, etag: str | None = None):
    size = storage.size(path)
    wanted = parse_range(request.headers.get("Range"), size)
    if_range = request.headers.get("If-Range")
    if wanted and if_range and etag and if_range.strip('"') != etag:
        wanted = None  # the file changed since the client's first part: send all of it
    if wanted is False:
        response = HttpResponse(status=status.HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE)
        response["Content-Range"] = f"bytes */{size}"
        response["Accept-Ranges"] = "bytes"
        return response
    fh = storage.open(path, "rb")
    if wanted:
        start, end = wanted
        try:
            fh.seek(start)
        except (OSError, AttributeError, NotImplementedError):
            wanted = None  # a storage that cannot seek: the whole file it is
            fh.close()
            fh = storage.open(path, "rb")
    if wanted:
        start, end = wanted
        response = StreamingHttpResponse(
            _chunks(fh, end - start + 1),
            status=status.HTTP_206_PARTIAL_CONTENT,
            content_type="application/octet-stream",
        )
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    else:
        response = FileResponse(
            fh, as_attachment=True, filename=filename, content_type="application/octet-stream"
        )
        response["Content-Length"] = str(size)
    response["Accept-Ranges"] = "bytes"
    if etag:
        response["ETag"] = f'"{etag}"'
    return response


class AnyAccept(BaseContentNegotiation):
    """Downloads answer any Accept header; their errors are JSON like everywhere else."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


ExportFile.content_negotiation_class = AnyAccept
ExportArchive.content_negotiation_class = AnyAccept
