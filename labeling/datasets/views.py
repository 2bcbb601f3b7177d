"""The researcher's export pages: list, new, detail with live progress, downloads, compare.

Leads and researchers of the project only; anyone else gets 404 from get_project_for.
"""

import json

from django.contrib import messages
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseGone,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from labeling.projects.access import get_project_for
from labeling.projects.models import Membership

from .archive import archive_response, archive_root
from .compare import compare_exports
from .forms import ExportForm
from .models import Export
from .options import FORMATS
from .services import (
    ExportWithdrawn,
    allow_download,
    exports_storage,
    restart_export,
    stale_after,
    start_export,
)

ROLES = (Membership.Role.RESEARCHER, Membership.Role.LEAD)


def _export(request: HttpRequest, slug: str, version: int):
    project, membership = get_project_for(request.user, slug, *ROLES)
    export = get_object_or_404(
        Export.objects.select_related("created_by", "project"), project=project, version=version
    )
    return project, export


@require_http_methods(["GET"])
def export_list(request: HttpRequest, slug: str) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, *ROLES)
    exports = list(project.exports.select_related("created_by").order_by("-version")[:200])
    context = {
        "project": project,
        "exports": exports,
        "formats": {k: v[0] for k, v in FORMATS.items()},
        "polling": any(not e.is_final for e in exports),
    }
    template = "datasets/export_list.html#table" if request.htmx else "datasets/export_list.html"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
def export_new(request: HttpRequest, slug: str) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, *ROLES)
    form = ExportForm(request.POST or None, project=project)
    if request.method == "POST" and form.is_valid():
        export = start_export(project=project, user=request.user, options=form.options)
        messages.success(request, f"Export v{export.version} queued.")
        response = redirect("export_detail", project.slug, export.version)
        response.status_code = 303
        return response
    status = 400 if request.method == "POST" else 200
    return render(
        request, "datasets/export_form.html", {"project": project, "form": form}, status=status
    )


@require_http_methods(["GET"])
def export_detail(request: HttpRequest, slug: str, version: int) -> HttpResponse:
    project, export = _export(request, slug, version)
    context = {
        "project": project,
        "export": export,
        "format_label": FORMATS.get(export.format, (export.format,))[0],
        "stale_after": int(stale_after().total_seconds()),
        "options": [(k, json.dumps(v)) for k, v in sorted(export.options.items())],
        "builder": "json" if export.file_type == "jsonl" else export.file_type,
    }
    template = (
        "datasets/export_detail.html#status" if request.htmx else "datasets/export_detail.html"
    )
    return render(request, template, context)


@require_POST
def export_restart(request: HttpRequest, slug: str, version: int) -> HttpResponse:
    project, export = _export(request, slug, version)
    export = restart_export(export=export)
    if export.status == Export.Status.QUEUED:
        messages.success(request, f"Export v{export.version} queued again.")
    else:
        messages.error(request, "Only a failed or stalled export can be run again.")
    response = redirect("export_detail", project.slug, export.version)
    response.status_code = 303
    return response


def _done(request: HttpRequest, slug: str, version: int) -> Export:
    _, export = _export(request, slug, version)
    if export.status != Export.Status.DONE:
        raise Http404("This export has no files yet.")
    return export


def _withdrawn_or_logged(request: HttpRequest, export: Export) -> HttpResponseGone | None:
    """410 for an export a deletion request withdrew; otherwise the download is logged."""
    try:
        allow_download(export=export, user=request.user)
    except ExportWithdrawn as exc:
        return HttpResponseGone(str(exc))
    return None


@require_http_methods(["GET"])
def export_download(request: HttpRequest, slug: str, version: int, name: str) -> FileResponse:
    export = _done(request, slug, version)
    if (gone := _withdrawn_or_logged(request, export)) is not None:
        return gone
    names = {f["name"] for f in export.files if f.get("kind") != "index"}
    if name not in names:
        raise Http404("No such file in this export.")
    storage = exports_storage()
    path = f"{export.folder}/{name}"
    filename = f"{archive_root(export)}-{name.replace('/', '-')}"
    response = FileResponse(storage.open(path, "rb"), as_attachment=True, filename=filename)
    response["Content-Length"] = str(storage.size(path))
    return response


@require_http_methods(["GET"])
def export_archive(request: HttpRequest, slug: str, version: int) -> StreamingHttpResponse:
    export = _done(request, slug, version)
    if (gone := _withdrawn_or_logged(request, export)) is not None:
        return gone
    return archive_response(export, exports_storage())


@require_http_methods(["GET"])
def export_compare(request: HttpRequest, slug: str) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, *ROLES)
    done = list(
        project.exports.filter(status=Export.Status.DONE)
        .order_by("-version")
        .only("version", "format", "file_type", "counts", "options", "folder", "fingerprint")
    )
    by_version = {e.version: e for e in done}
    comparison = None
    try:
        a = by_version.get(int(request.GET.get("a", "")))
        b = by_version.get(int(request.GET.get("b", "")))
    except ValueError:
        a = b = None
    if a and b:
        a.project = b.project = project
        comparison = compare_exports(a=a, b=b, storage=exports_storage())
    context = {"project": project, "exports": done, "comparison": comparison, "a": a, "b": b}
    return render(request, "datasets/export_compare.html", context)
