"""/api/v1/: one module per area. Every project URL is checked through get_project_for."""

from django.contrib.auth.decorators import login_not_required
from django.urls import path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from . import assignments, exports, generation, judgments, projects, prompts, token_views
from . import schema as _schema  # noqa: F401  (registers the token scheme with drf-spectacular)
from .docs import SwaggerDocs
from .permissions import NotFoundView


class IdConverter:
    """A positive id that fits in a bigint, so a huge number is a 404, never a database error."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")

P = "projects/<slug:slug>/"

urlpatterns = [
    # Tokens
    path("tokens/", token_views.TokenList.as_view(), name="api_tokens"),
    path("tokens/<id:pk>/", token_views.TokenDetail.as_view(), name="api_token"),
    # Projects
    path("projects/", projects.ProjectList.as_view(), name="api_projects"),
    path(P, projects.ProjectDetail.as_view(), name="api_project"),
    path(P + "stats/", projects.ProjectStats.as_view(), name="api_project_stats"),
    # Prompts and items
    path(P + "prompts/", prompts.PromptList.as_view(), name="api_prompts"),
    path(P + "prompts/import/", prompts.PromptImport.as_view(), name="api_prompt_import"),
    path(P + "items/", prompts.ItemList.as_view(), name="api_items"),
    # Labeling
    path(P + "assignments/next/", assignments.NextWork.as_view(), name="api_next"),
    path("assignments/<uuid:code>/", assignments.AssignmentDetail.as_view(), name="api_assignment"),
    path(
        "assignments/<uuid:code>/submit/",
        assignments.SubmitJudgment.as_view(),
        name="api_assignment_submit",
    ),
    path(
        "assignments/<uuid:code>/skip/",
        assignments.SkipAssignment.as_view(),
        name="api_assignment_skip",
    ),
    path(P + "judgments/", judgments.JudgmentList.as_view(), name="api_judgments"),
    path(P + "judgments/<id:pk>/", judgments.JudgmentDetail.as_view(), name="api_judgment"),
    # Generation
    path(P + "endpoints/", generation.EndpointList.as_view(), name="api_endpoints"),
    path(P + "endpoints/<id:pk>/", generation.EndpointDetail.as_view(), name="api_endpoint"),
    path(P + "generation-jobs/", generation.JobList.as_view(), name="api_jobs"),
    path(P + "generation-jobs/<id:pk>/", generation.JobDetail.as_view(), name="api_job"),
    path(
        P + "generation-jobs/<id:pk>/cancel/", generation.JobCancel.as_view(), name="api_job_cancel"
    ),
    path(
        P + "generation-jobs/<id:pk>/retry-failed/",
        generation.JobRetry.as_view(),
        name="api_job_retry",
    ),
    # Exports
    path(P + "exports/", exports.ExportList.as_view(), name="api_exports"),
    path(P + "exports/<id:version>/", exports.ExportDetail.as_view(), name="api_export"),
    path(
        P + "exports/<id:version>/restart/",
        exports.ExportRestart.as_view(),
        name="api_export_restart",
    ),
    path(
        P + "exports/<id:version>/archive/",
        exports.ExportArchive.as_view(),
        name="api_export_archive",
    ),
    path(
        P + "exports/<id:version>/files/<path:name>",
        exports.ExportFile.as_view(),
        name="api_export_file",
    ),
    # Schema and docs (static files only: no CDN, no inline script)
    path("schema/", login_not_required(SpectacularAPIView.as_view()), name="api_schema"),
    path("docs/", login_not_required(SwaggerDocs.as_view(url_name="api_schema")), name="api_docs"),
    path(
        "redoc/",
        login_not_required(SpectacularRedocView.as_view(url_name="api_schema")),
        name="api_redoc",
    ),
    # Anything else under /api/v1/ is a JSON 404, like every other API error.
    # [\s\S], not ".": a path may hold an encoded newline, which "." does not match.
    re_path(r"^[\s\S]*$", NotFoundView.as_view(), name="api_not_found"),
]
