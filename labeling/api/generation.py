"""Model endpoints and generation jobs (leads): the web's forms and services, over JSON.

An endpoint's API key is never stored, only the name of the environment variable that holds
it; the API does not even echo that name back (`api_key_configured` says whether one is set).
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.datastructures import MultiValueDict
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response

from labeling.generation.forms import EndpointForm, JobForm, start_job_from
from labeling.generation.models import GenerationJob, ModelEndpoint
from labeling.generation.services import (
    cancel_job,
    endpoints_for,
    job_progress,
    retry_failed_units,
    save_endpoint,
)

from .errors import form_errors, from_django
from .permissions import LEAD, MAX_ID, ApiView, ListView

ENDPOINT_FIELDS = EndpointForm.Meta.fields


# --- endpoints -----------------------------------------------------------------------------------


class EndpointSerializer(serializers.ModelSerializer):
    shared = serializers.BooleanField(source="is_shared", read_only=True)
    api_key_configured = serializers.SerializerMethodField()

    class Meta:
        model = ModelEndpoint
        fields = ["id", *[f for f in ENDPOINT_FIELDS if f != "api_key_env"]]
        fields += ["shared", "api_key_configured", "created_at", "updated_at"]
        read_only_fields = fields

    def get_api_key_configured(self, endpoint: ModelEndpoint) -> bool:
        return bool(endpoint.api_key_env)


class EndpointWriteSerializer(serializers.ModelSerializer):
    """Checked again by the web's EndpointForm and the model's own validation."""

    api_key_env = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        write_only=True,
        help_text="Name of the environment variable holding the key (e.g. MODEL_KEY_OPENAI); "
        "the key itself is never sent to or stored by the app.",
    )

    class Meta:
        model = ModelEndpoint
        fields = ENDPOINT_FIELDS
        extra_kwargs = {
            "max_concurrency": {"max_value": 1000},
            "timeout_seconds": {"max_value": 3600},
        }


def _endpoint_form_data(values: dict) -> MultiValueDict:
    data = MultiValueDict()
    for name in ENDPOINT_FIELDS:
        value = values.get(name)
        if isinstance(value, bool):
            data[name] = "true" if value else "false"
        elif value is not None:
            data[name] = str(value)
    return data


def _save_endpoint(request, endpoint: ModelEndpoint, values: dict) -> ModelEndpoint:
    form = EndpointForm(_endpoint_form_data(values), instance=endpoint)
    if not form.is_valid():
        raise form_errors(form)
    try:
        return save_endpoint(endpoint=form.save(commit=False), by=request.user)
    except DjangoValidationError as exc:
        raise from_django(exc) from None


def _current(endpoint: ModelEndpoint) -> dict:
    return {name: getattr(endpoint, name) for name in ENDPOINT_FIELDS}


class EndpointList(ListView):
    serializer_class = EndpointSerializer
    filter_backends = [OrderingFilter]
    ordering_fields = ["id"]
    ordering = ["-id"]

    def get_queryset(self):
        project, _ = self.project(LEAD)
        return endpoints_for(project=project)

    @extend_schema(summary="The project's model endpoints and the shared ones (leads)")
    def get(self, request, slug: str):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(EndpointSerializer(page, many=True).data)

    @extend_schema(
        summary="Add a model endpoint (leads)",
        request=EndpointWriteSerializer,
        responses={201: EndpointSerializer},
    )
    def post(self, request, slug: str):
        project, _ = self.project(LEAD)
        body = EndpointWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        defaults = _current(ModelEndpoint(project=project))
        saved = _save_endpoint(
            request, ModelEndpoint(project=project), {**defaults, **body.validated_data}
        )
        return Response(EndpointSerializer(saved).data, status=status.HTTP_201_CREATED)


class EndpointDetail(ApiView):
    serializer_class = EndpointSerializer

    def endpoint(self, *, editable: bool = False) -> ModelEndpoint:
        project, _ = self.project(LEAD)
        endpoint = endpoints_for(project=project).filter(pk=self.kwargs["pk"]).first()
        if endpoint is None or (editable and endpoint.is_shared):
            raise exceptions.NotFound()
        return endpoint

    @extend_schema(summary="One model endpoint (leads)")
    def get(self, request, slug: str, pk: int):
        return Response(EndpointSerializer(self.endpoint()).data)

    @extend_schema(
        summary="Change a model endpoint of this project (leads; shared ones are admin-only)",
        request=EndpointWriteSerializer(partial=True),
        responses=EndpointSerializer,
    )
    def patch(self, request, slug: str, pk: int):
        endpoint = self.endpoint(editable=True)
        body = EndpointWriteSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        saved = _save_endpoint(request, endpoint, {**_current(endpoint), **body.validated_data})
        return Response(EndpointSerializer(saved).data)


# --- jobs ----------------------------------------------------------------------------------------


class ProgressErrorSerializer(serializers.Serializer):
    error = serializers.CharField()
    n = serializers.IntegerField()


class ProgressSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    failed = serializers.IntegerField()
    running = serializers.IntegerField()
    queued = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    percent = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    elapsed_seconds = serializers.FloatField(allow_null=True)
    eta_seconds = serializers.FloatField(allow_null=True)
    is_final = serializers.BooleanField(help_text="Nothing will change any more: stop polling.")
    errors = ProgressErrorSerializer(many=True, help_text="The latest errors, grouped.")


def progress_payload(job: GenerationJob) -> dict:
    p = job_progress(job=job)
    return {
        "total": p.total,
        "done": p.done,
        "failed": p.failed,
        "running": p.running,
        "queued": p.queued,
        "cancelled": p.cancelled,
        "percent": p.percent,
        "prompt_tokens": p.prompt_tokens,
        "completion_tokens": p.completion_tokens,
        "elapsed_seconds": p.elapsed.total_seconds() if p.elapsed is not None else None,
        "eta_seconds": p.eta.total_seconds() if p.eta is not None else None,
        "is_final": p.is_final,
        "errors": [{"error": e["error"], "n": e["n"]} for e in p.errors],
    }


class JobSerializer(serializers.ModelSerializer):
    endpoints = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    batch = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    variants = serializers.ListField(child=serializers.DictField())

    class Meta:
        model = GenerationJob
        fields = [
            "id",
            "status",
            "endpoints",
            "selection",
            "batch",
            "contains",
            "samples_per_endpoint",
            "variants",
            "pairing",
            "pairs_per_prompt",
            "units_total",
            "items_created",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class JobDetailSerializer(JobSerializer):
    progress = serializers.SerializerMethodField()

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "progress"]
        read_only_fields = fields

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, job: GenerationJob) -> dict:
        return progress_payload(job)


class JobRequestSerializer(serializers.Serializer):
    endpoints = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), min_length=1
    )
    selection = serializers.ChoiceField(
        choices=GenerationJob.Selection.choices, default=GenerationJob.Selection.WITHOUT_CANDIDATES
    )
    batch = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_ID, help_text="An import's id."
    )
    contains = serializers.CharField(required=False, allow_blank=True, max_length=200)
    samples_per_endpoint = serializers.IntegerField(default=1, min_value=1, max_value=20)
    temperatures = serializers.ListField(
        child=serializers.FloatField(min_value=0, max_value=2),
        required=False,
        max_length=5,
        help_text="One run of every endpoint per value; empty: each endpoint's own.",
    )
    max_tokens = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=32768
    )
    pairing = serializers.ChoiceField(
        choices=GenerationJob.Pairing.choices,
        required=False,
        help_text="Default: all pairs (pairwise projects), one K-way item (ranking projects).",
    )
    pairs_per_prompt = serializers.IntegerField(default=1, min_value=1, max_value=50)


def _job_form_data(values: dict, project) -> MultiValueDict:
    data = MultiValueDict()
    data.setlist("endpoints", [str(pk) for pk in values["endpoints"]])
    data["selection"] = values["selection"]
    if values.get("batch"):
        data["batch"] = str(values["batch"])
    data["contains"] = values.get("contains", "")
    data["samples_per_endpoint"] = str(values["samples_per_endpoint"])
    data["temperatures"] = ", ".join(repr(float(t)) for t in values.get("temperatures") or [])
    if values.get("max_tokens"):
        data["max_tokens"] = str(values["max_tokens"])
    pairing = values.get("pairing") or (
        GenerationJob.Pairing.K_WAY
        if project.mode == "ranking"
        else GenerationJob.Pairing.ALL_PAIRS
    )
    data["pairing"] = pairing
    data["pairs_per_prompt"] = str(values["pairs_per_prompt"])
    return data


class JobList(ListView):
    serializer_class = JobSerializer
    filter_backends = [OrderingFilter]
    ordering_fields = ["id"]
    ordering = ["-id"]

    def get_queryset(self):
        project, _ = self.project(LEAD)
        jobs = project.generation_jobs.prefetch_related("endpoints")
        if self.request.query_params.get("status"):
            jobs = jobs.filter(status=self.request.query_params["status"])
        return jobs

    @extend_schema(
        summary="The project's generation jobs (leads)",
        parameters=[OpenApiParameter("status", enum=GenerationJob.Status.values)],
    )
    def get(self, request, slug: str):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(JobSerializer(page, many=True).data)

    @extend_schema(
        summary="Start a generation job (leads)",
        description="One call per prompt × endpoint × temperature × sample, run by the workers. "
        "Poll the job until `progress.is_final`.",
        request=JobRequestSerializer,
        responses={201: JobDetailSerializer},
    )
    def post(self, request, slug: str):
        project, _ = self.project(LEAD)
        body = JobRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        form = JobForm(_job_form_data(body.validated_data, project), project=project)
        if not form.is_valid():
            raise form_errors(form)
        try:
            job = start_job_from(form, by=request.user)
        except DjangoValidationError as exc:
            raise from_django(exc) from None
        return Response(JobDetailSerializer(job).data, status=status.HTTP_201_CREATED)


class JobView(ApiView):
    serializer_class = JobDetailSerializer

    def job(self) -> GenerationJob:
        project, _ = self.project(LEAD)
        job = project.generation_jobs.filter(pk=self.kwargs["pk"]).first()
        if job is None:
            raise exceptions.NotFound()
        return job


class JobDetail(JobView):
    @extend_schema(summary="A generation job and its progress (leads)")
    def get(self, request, slug: str, pk: int):
        return Response(JobDetailSerializer(self.job()).data)


class JobActionSerializer(serializers.Serializer):
    units = serializers.IntegerField(help_text="How many calls were cancelled / queued again.")
    job = JobDetailSerializer()


class JobCancel(JobView):
    serializer_class = JobActionSerializer

    @extend_schema(
        summary="Cancel a job's calls not yet started (leads)",
        request=None,
        responses=JobActionSerializer,
    )
    def post(self, request, slug: str, pk: int):
        job = self.job()
        n = cancel_job(job=job)
        job.refresh_from_db()
        return Response({"units": n, "job": JobDetailSerializer(job).data})


class JobRetry(JobView):
    serializer_class = JobActionSerializer

    @extend_schema(
        summary="Queue a job's failed calls again (leads)",
        request=None,
        responses=JobActionSerializer,
    )
    def post(self, request, slug: str, pk: int):
        job = self.job()
        n = retry_failed_units(job=job)
        job.refresh_from_db()
        return Response({"units": n, "job": JobDetailSerializer(job).data})
