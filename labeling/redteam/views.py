"""The red-team pages: trainers write and judge attacks; leads generate, read rates, promote.

Every view comes through get_redteam_project_for / get_attack_for: non-members and the wrong
roles get 404, and a trainer reaches only their own attacks.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseGone,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from labeling.core import audit
from labeling.datasets.archive import archive_response
from labeling.datasets.services import exports_storage
from labeling.generation.services import endpoints_for
from labeling.judging.services import accept_notice, notice_pending
from labeling.projects.models import Membership
from labeling.projects.taxonomy import harm_labels

from . import services
from .access import get_attack_for, get_redteam_project_for
from .export import ExportWithdrawn, allow_download, export_attempts
from .forms import AttackForm, GenerateForm, JudgeForm, PromoteForm, RedTeamExportForm
from .models import Attack, AttemptJudgment, RedTeamExport

Role = Membership.Role
EXPORT_ROLES = (Role.LEAD, Role.RESEARCHER)


def _see_other(name: str, *args) -> HttpResponse:
    response = redirect(name, *args)
    response.status_code = 303
    return response


@require_http_methods(["GET"])
def attack_list(request: HttpRequest, slug: str) -> HttpResponse:
    project, membership = get_redteam_project_for(request.user, slug, Role.TRAINER, Role.LEAD)
    attacks = services.with_progress(
        services.visible_attacks(project=project, membership=membership)
    )[:500]
    return render(
        request,
        "redteam/attacks.html",
        {
            "project": project,
            "membership": membership,
            "is_lead": membership.role == Role.LEAD,
            "attacks": attacks,
        },
    )


def _notice_redirect(request: HttpRequest, project, membership) -> HttpResponse | None:
    if membership.role == Role.TRAINER and notice_pending(user=request.user, membership=membership):
        return redirect("redteam_notice", project.slug)
    return None


@require_http_methods(["GET", "POST"])
def notice(request: HttpRequest, slug: str) -> HttpResponse:
    """The 18+ and content-notice gate of judging, before a trainer's first attack."""
    project, membership = get_redteam_project_for(request.user, slug, Role.TRAINER)
    error = ""
    if request.method == "POST":
        if request.POST.get("adult") != "yes" or request.POST.get("accept") != "yes":
            error = "Please confirm both statements to start."
        else:
            accept_notice(user=request.user, membership=membership)
            return redirect("redteam_attack_new", project.slug)
    return render(
        request,
        "judging/notice.html",
        {"project": project, "error": error},
        status=400 if error else 200,
    )


@require_http_methods(["GET", "POST"])
def attack_new(request: HttpRequest, slug: str) -> HttpResponse:
    project, membership = get_redteam_project_for(request.user, slug, Role.TRAINER)
    if gate := _notice_redirect(request, project, membership):
        return gate
    form = AttackForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            attack = services.write_attack(
                project=project,
                author=request.user,
                messages=form.messages(),
                category=form.cleaned_data["category"],
                tactic=form.cleaned_data["tactic"].strip(),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            sent = services.settings_of(project).endpoints.exists()
            messages.success(
                request,
                f"Attack {attack.pk} saved."
                + (
                    " It was sent to the project's endpoints; judge the responses when they arrive."
                    if sent
                    else " The lead will send it to the models."
                ),
            )
            if "another" in request.POST:
                return _see_other("redteam_attack_new", project.slug)
            return _see_other("redteam_attack", project.slug, attack.pk)
    mine = Attack.objects.filter(project=project, author=request.user).count()
    return render(
        request,
        "redteam/attack_new.html",
        {"project": project, "form": form, "mine": mine},
        status=400 if request.method == "POST" else 200,
    )


def _candidates(attack: Attack) -> list:
    candidates = list(attack.prompt.candidates.select_related("redteam_judgment").order_by("id"))
    for c in candidates:
        c.warning = harm_labels(c.harm_mask)
    return candidates


@require_http_methods(["GET", "POST"])
def attack_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    attack, membership = get_attack_for(request.user, slug, pk)
    project = attack.project
    is_author = attack.author_id == request.user.pk
    if is_author and (gate := _notice_redirect(request, project, membership)):
        return gate
    candidates = _candidates(attack)
    form = JudgeForm(request.POST or None, attack=attack, candidates=candidates)
    status = 200
    if request.method == "POST":
        if not is_author:
            raise Http404("Only the author judges an attack")
        if form.is_valid():
            try:
                services.judge_attack(attack=attack, judge=request.user, verdicts=form.verdicts())
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, f"Verdicts on attack {attack.pk} saved.")
                return _see_other("redteam_judge_next", project.slug)
        status = 422
    context = {
        "project": project,
        "attack": attack,
        "is_author": is_author,
        "is_lead": membership.role == Role.LEAD,
        "form": form,
        "rows": form.rows(),
        "attack_title": f"Attack {attack.pk}",
        "waiting": not candidates,
        "pending": services.pending_responses(attack=attack),
    }
    template = "redteam/attack.html#responses" if request.htmx else "redteam/attack.html"
    return render(request, template, context, status=status)


@require_http_methods(["GET"])
def judge_next(request: HttpRequest, slug: str) -> HttpResponse:
    project, membership = get_redteam_project_for(request.user, slug, Role.TRAINER)
    attack = services.next_attack_to_judge(project=project, author=request.user)
    if attack is None:
        messages.info(request, "Every response to your attacks is judged. Write another?")
        return redirect("redteam_attacks", project.slug)
    return redirect("redteam_attack", project.slug, attack.pk)


@require_POST
def reveal(request: HttpRequest, slug: str, pk: int, candidate_id: int) -> HttpResponse:
    """Record that someone chose to read a response hidden behind a content warning."""
    attack, _ = get_attack_for(request.user, slug, pk)
    if not attack.prompt.candidates.filter(pk=candidate_id).exists():
        raise Http404("No such response")
    audit.record(
        action="reveal", actor=request.user, project=attack.project, obj=attack,
        candidate=candidate_id,
    )  # fmt: skip
    return HttpResponse(status=204)


@require_http_methods(["GET", "POST"])
def generate(request: HttpRequest, slug: str) -> HttpResponse:
    project, _ = get_redteam_project_for(request.user, slug, Role.LEAD)
    defaults = services.settings_of(project)
    initial = {
        "endpoints": list(defaults.endpoints.all()),
        "samples_per_endpoint": defaults.samples_per_endpoint,
        "make_default": defaults.endpoints.exists(),
    }
    form = GenerateForm(
        request.POST or None, endpoints=endpoints_for(project=project), initial=initial
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        endpoints = list(data["endpoints"])
        services.save_settings(
            project=project,
            endpoints=endpoints if data["make_default"] else [],
            samples_per_endpoint=data["samples_per_endpoint"],
        )
        if "save" in request.POST:
            messages.success(request, "Automatic generation settings saved.")
            return _see_other("redteam_generate", project.slug)
        try:
            job = services.generate_responses(
                project=project,
                by=request.user,
                endpoints=endpoints,
                only_new=data["only_new"],
                samples_per_endpoint=data["samples_per_endpoint"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Generation job {job.pk} started: {job.units_total} calls.")
            return _see_other("generation_job", project.slug, job.pk)
    waiting = services.live_attacks(project=project).filter(prompt__candidates__isnull=True)
    return render(
        request,
        "redteam/generate.html",
        {"project": project, "form": form, "waiting": waiting.count(), "defaults": defaults},
        status=400 if request.method == "POST" else 200,
    )


@require_http_methods(["GET"])
def stats(request: HttpRequest, slug: str) -> HttpResponse:
    project, _ = get_redteam_project_for(request.user, slug, Role.LEAD)
    rates = services.success_rates(project=project)
    models = [r.key for r in rates["by_model"]]
    cross_rows = [
        {
            "category": row,
            "cells": [rates["cross"].get((row.key, m)) for m in models],
        }
        for row in rates["by_category"]
    ]
    return render(
        request,
        "redteam/stats.html",
        {"project": project, "rates": rates, "models": models, "cross_rows": cross_rows},
    )


@require_http_methods(["GET", "POST"])
def promote(request: HttpRequest, slug: str) -> HttpResponse:
    project, _ = get_redteam_project_for(request.user, slug, Role.LEAD)
    successful = (
        services.live_attacks(project=project)
        .filter(judgments__success=True)
        .distinct()
        .select_related("author", "prompt")
        .annotate(n_promotions=Count("promotions", distinct=True))
        .order_by("id")
    )
    targets = services.promotion_targets(project=project, lead=request.user)
    form = PromoteForm(request.POST or None, attacks=successful, targets=targets)
    if request.method == "POST" and form.is_valid():
        try:
            result = services.promote_attacks(
                attacks=list(form.cleaned_data["attacks"]),
                target=form.cleaned_data["target"],
                by=request.user,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                f"{len(result.created)} new item(s) in {form.cleaned_data['target'].name}; "
                f"{len(result.waiting)} waiting for a safe response; "
                f"{len(result.unchanged)} promoted before.",
            )
            return _see_other("redteam_promote", project.slug)
    promotions = (
        services.Promotion.objects.filter(attack__project=project)
        .select_related("target", "item")
        .order_by("-created_at")[:200]
    )
    return render(
        request,
        "redteam/promote.html",
        {"project": project, "form": form, "promotions": promotions},
        status=400 if request.method == "POST" else 200,
    )


@require_http_methods(["GET", "POST"])
def exports(request: HttpRequest, slug: str) -> HttpResponse:
    project, membership = get_redteam_project_for(request.user, slug, *EXPORT_ROLES)
    form = RedTeamExportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        export = export_attempts(
            project=project, by=request.user, file_type=form.cleaned_data["file_type"]
        )
        messages.success(request, f"Red-team export v{export.version}: {export.rows_total} rows.")
        return _see_other("redteam_exports", project.slug)
    rows = RedTeamExport.objects.filter(project=project).select_related("created_by")[:200]
    judged = AttemptJudgment.objects.filter(attack__project=project).count()
    return render(
        request,
        "redteam/exports.html",
        {
            "project": project,
            "form": form,
            "exports": rows,
            "judged": judged,
            "is_lead": membership.role == Role.LEAD,
        },
    )


def _export(request: HttpRequest, slug: str, version: int) -> RedTeamExport:
    project, _ = get_redteam_project_for(request.user, slug, *EXPORT_ROLES)
    return get_object_or_404(
        RedTeamExport.objects.select_related("project"), project=project, version=version
    )


@require_http_methods(["GET"])
def export_file(request: HttpRequest, slug: str, version: int, name: str) -> HttpResponse:
    export = _export(request, slug, version)
    if name not in {f["name"] for f in export.files}:
        raise Http404("No such file")
    try:
        allow_download(export=export, user=request.user, name=name)
    except ExportWithdrawn as exc:
        return HttpResponseGone(str(exc))
    handle = exports_storage().open(f"{export.folder}/{name}", "rb")
    return FileResponse(handle, as_attachment=True, filename=name.rsplit("/", 1)[-1])


@require_http_methods(["GET"])
def export_archive(request: HttpRequest, slug: str, version: int) -> HttpResponse:
    export = _export(request, slug, version)
    try:
        allow_download(export=export, user=request.user, name="archive")
    except ExportWithdrawn as exc:
        return HttpResponseGone(str(exc))
    return archive_response(export, exports_storage(), suffix="-redteam")
