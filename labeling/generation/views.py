"""The lead's pages: model endpoints (with a connection test) and generation jobs."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from labeling.projects.access import get_project_for
from labeling.projects.models import Candidate, Membership, Project

from . import screening
from .forms import EndpointForm, JobForm, ModerationForm, start_job_from
from .models import (
    CandidateScreening,
    GenerationJob,
    GenerationUnit,
    ModelEndpoint,
    ModerationEndpoint,
)
from .services import (
    cancel_job,
    endpoints_for,
    job_progress,
    retry_failed_units,
    save_endpoint,
    test_endpoint,
)

LEAD = Membership.Role.LEAD
RECENT_UNITS = 20


def _see_other(url: str) -> HttpResponseRedirect:
    response = HttpResponseRedirect(url)
    response.status_code = 303  # reloading the page must not post again
    return response


def _endpoint_for(project: Project, pk: int, *, editable: bool = False) -> ModelEndpoint:
    endpoint = get_object_or_404(endpoints_for(project=project), pk=pk)
    if editable and endpoint.is_shared:
        raise Http404("Shared endpoints are edited in the admin")
    return endpoint


def _job_for(project: Project, pk: int) -> GenerationJob:
    return get_object_or_404(GenerationJob, project=project, pk=pk)


# Endpoints -----------------------------------------------------------------------------------


@require_http_methods(["GET"])
def endpoint_list(request: HttpRequest, slug: str) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, LEAD)
    return _endpoints_page(request, project)


def _endpoints_page(request, project, *, tested=None, result=None, status=200) -> HttpResponse:
    return render(
        request,
        "generation/endpoints.html",
        {
            "project": project,
            "endpoints": endpoints_for(project=project).order_by("project_id", "name"),
            "tested": tested,
            "result": result,
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
def endpoint_new(request: HttpRequest, slug: str) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, LEAD)
    return _endpoint_form(request, project, ModelEndpoint(project=project))


@require_http_methods(["GET", "POST"])
def endpoint_edit(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, LEAD)
    return _endpoint_form(request, project, _endpoint_for(project, pk, editable=True))


def _endpoint_form(request, project: Project, endpoint: ModelEndpoint) -> HttpResponse:
    form = EndpointForm(request.POST or None, instance=endpoint)
    if request.method == "POST" and form.is_valid():
        saved = save_endpoint(endpoint=form.save(commit=False), by=request.user)
        messages.success(request, f"Endpoint “{saved.name}” saved.")
        return _see_other(reverse("generation_endpoints", args=[project.slug]))
    return render(
        request,
        "generation/endpoint_form.html",
        {"project": project, "form": form, "endpoint": endpoint},
        status=400 if request.method == "POST" else 200,
    )


@require_POST
def endpoint_test(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, LEAD)
    endpoint = _endpoint_for(project, pk)
    result = test_endpoint(endpoint=endpoint)
    if request.htmx:
        return render(
            request,
            "generation/endpoints.html#test_result",
            {"project": project, "endpoint": endpoint, "result": result},
        )
    return _endpoints_page(request, project, tested=endpoint, result=result)


# Jobs ----------------------------------------------------------------------------------------


@require_http_methods(["GET"])
def job_list(request: HttpRequest, slug: str) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, LEAD)
    jobs = (
        project.generation_jobs.select_related("created_by")
        .annotate(
            done=Count("units", filter=Q(units__status=GenerationUnit.Status.DONE)),
            failed=Count("units", filter=Q(units__status=GenerationUnit.Status.FAILED)),
        )
        .order_by("-created_at")[:50]
    )
    return render(request, "generation/jobs.html", {"project": project, "jobs": jobs})


@require_http_methods(["GET", "POST"])
def job_new(request: HttpRequest, slug: str) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, LEAD)
    initial = {
        "selection": GenerationJob.Selection.WITHOUT_CANDIDATES,
        "pairing": GenerationJob.Pairing.K_WAY
        if project.mode == Project.Mode.RANKING
        else GenerationJob.Pairing.ALL_PAIRS,
    }
    form = JobForm(request.POST or None, project=project, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            job = start_job_from(form, by=request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Job {job.pk} started: {job.units_total} calls queued.")
            return _see_other(reverse("generation_job", args=[project.slug, job.pk]))
    return render(
        request,
        "generation/job_form.html",
        {
            "project": project,
            "form": form,
            "has_endpoints": endpoints_for(project=project).exists(),
        },
        status=400 if request.method == "POST" else 200,
    )


@require_http_methods(["GET"])
def job_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, LEAD)
    job = _job_for(project, pk)
    context = {
        "project": project,
        "job": job,
        "progress": job_progress(job=job),
        "units": job.units.select_related("endpoint", "candidate")
        .exclude(status__in=[GenerationUnit.Status.QUEUED, GenerationUnit.Status.CANCELLED])
        .order_by("-updated_at")[:RECENT_UNITS],
    }
    if request.htmx:
        return render(request, "generation/job.html#progress", context)
    context["endpoints"] = job.endpoints.all()
    return render(request, "generation/job.html", context)


@require_POST
def job_cancel(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, LEAD)
    job = _job_for(project, pk)
    n = cancel_job(job=job)
    messages.success(request, f"Job {job.pk} cancelled: {n} calls will not be made.")
    return _see_other(reverse("generation_job", args=[project.slug, job.pk]))


@require_POST
def job_retry_failed(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, LEAD)
    job = _job_for(project, pk)
    n = retry_failed_units(job=job)
    messages.success(request, f"{n} failed calls queued again.")
    return _see_other(reverse("generation_job", args=[project.slug, job.pk]))


# Screening -----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def moderation_page(request: HttpRequest, slug: str) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, LEAD)
    current = screening.moderation_for(project=project)
    form = ModerationForm(
        request.POST or None, instance=current or ModerationEndpoint(project=project)
    )
    if request.method == "POST" and form.is_valid():
        screening.save_moderation(moderation=form.save(commit=False))
        messages.success(request, "Moderation endpoint saved.")
        return _see_other(reverse("generation_moderation", args=[project.slug]))
    counts = dict(
        CandidateScreening.objects.filter(candidate__prompt__project=project)
        .values_list("status")
        .annotate(n=Count("id"))
    )
    flagged = CandidateScreening.objects.filter(
        candidate__prompt__project=project, flagged=True
    ).count()
    return render(
        request,
        "generation/moderation.html",
        {
            "project": project,
            "form": form,
            "moderation": current,
            "counts": counts,
            "flagged": flagged,
            "pending": counts.get("queued", 0) + counts.get("running", 0),
            "unscreened": Candidate.objects.filter(
                prompt__project=project,
                prompt__deleted_at__isnull=True,
                prompt__quarantined_at__isnull=True,
                screening__isnull=True,
            ).count(),
        },
        status=400 if request.method == "POST" else 200,
    )


@require_POST
def moderation_screen_existing(request: HttpRequest, slug: str) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, LEAD)
    n = screening.screen_existing(project=project)
    if screening.moderation_for(project=project) is None:
        messages.error(request, "Configure a moderation endpoint first.")
    else:
        messages.success(request, f"{n} candidate{'s' if n != 1 else ''} queued for screening.")
    return _see_other(reverse("generation_moderation", args=[project.slug]))


@require_POST
def moderation_remove(request: HttpRequest, slug: str) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, LEAD)
    screening.remove_moderation(project=project)
    messages.success(request, "Screening turned off; recorded results stay.")
    return _see_other(reverse("generation_moderation", args=[project.slug]))
