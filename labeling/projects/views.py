"""The lead's project pages (create, settings, members) and every member's overview."""

import copy

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_http_methods, require_POST

from .access import get_project_for
from .forms import AddMemberForm, ProjectForm, RoleForm, dimension_formset
from .models import Membership, Project
from .services import (
    add_member,
    change_member_role,
    create_project,
    project_counts,
    remove_member,
    update_project,
)

Role = Membership.Role
SETTING_FIELDS = ("scores_required", "rationale_policy", "lease_minutes", "overlap")


def _settings_from(form: ProjectForm, formset) -> dict:
    data = form.cleaned_data
    return {
        "name": data["name"],
        "mode": data["mode"],
        "guidelines": data["guidelines"],
        "dimensions": formset.dimensions(),
        "base_flag_keys": data["base_flags"],
        "custom_flags": data["custom_flags"],
        **{name: data[name] for name in SETTING_FIELDS},
    }


@require_http_methods(["GET", "POST"])
def project_new(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("projects.add_project"):
        raise PermissionDenied
    data = request.POST if request.method == "POST" else None
    form = ProjectForm(data, initial={"lease_minutes": settings.LEASE_MINUTES_DEFAULT})
    formset = dimension_formset(data)
    if data is not None and all([form.is_valid(), formset.is_valid()]):
        project = create_project(
            created_by=request.user, kind=form.cleaned_data["kind"], **_settings_from(form, formset)
        )
        messages.success(request, f"Project “{project.name}” created. You are its lead.")
        return redirect("project_overview", project.slug)
    return render(
        request, "projects/project_form.html", {"form": form, "formset": formset, "project": None}
    )


@require_http_methods(["GET", "POST"])
def project_settings(request: HttpRequest, slug: str) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, Role.LEAD)
    data = request.POST if request.method == "POST" else None
    # The form edits a copy, so a rejected edit does not leak into the page's title and crumbs.
    form = ProjectForm(data, instance=copy.copy(project), mode_locked=project.items.exists())
    formset = dimension_formset(data, dimensions=project.active_dimensions())
    if data is not None and all([form.is_valid(), formset.is_valid()]):
        try:
            saved = update_project(
                project=project, by=request.user, **_settings_from(form, formset)
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request, f"Settings saved. Guidelines are at version {saved.guidelines_version}."
            )
            return redirect("project_overview", saved.slug)
    return render(
        request,
        "projects/project_form.html",
        {"form": form, "formset": formset, "project": project},
    )


def _admin_url(project: Project) -> str:
    # The project's own admin page if the admin registers projects, else the admin's index.
    try:
        return reverse("admin:projects_project_change", args=[project.pk])
    except NoReverseMatch:
        return reverse("admin:index")


def _counts(project: Project) -> dict[str, int]:
    if project.is_red_team:
        # Imported here: the red-team app builds on projects, not the other way round.
        from labeling.redteam.services import campaign_counts

        return campaign_counts(project=project)
    return project_counts(project=project)


@require_http_methods(["GET"])
def project_overview(request: HttpRequest, slug: str) -> HttpResponse:
    project, membership = get_project_for(request.user, slug)
    is_lead = membership.role == Role.LEAD
    return render(
        request,
        "projects/overview.html",
        {
            "project": project,
            "membership": membership,
            "counts": _counts(project),
            "is_lead": is_lead,
            "is_trainer": membership.role == Role.TRAINER,
            "admin_url": _admin_url(project) if is_lead and request.user.is_staff else None,
        },
    )


@require_http_methods(["GET", "POST"])
def project_members(request: HttpRequest, slug: str) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, Role.LEAD)
    form = AddMemberForm(request.POST or None, project=project)
    if request.method == "POST" and form.is_valid():
        user, role = form.cleaned_data["username"], form.cleaned_data["role"]
        add_member(project=project, user=user, role=role, by=request.user)
        messages.success(request, f"{user.username} added as {Role(role).label.lower()}.")
        return redirect("project_members", project.slug)
    members = project.memberships.select_related("user").order_by("role", "user__username")
    return render(
        request,
        "projects/members.html",
        {"project": project, "members": members, "form": form, "roles": Role.choices},
    )


@require_POST
def project_member_role(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, Role.LEAD)
    membership = get_object_or_404(
        Membership.objects.select_related("user"), project=project, pk=pk
    )
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Pick a role.")
        return redirect("project_members", project.slug)
    try:
        change_member_role(membership=membership, role=form.cleaned_data["role"], by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("project_members", project.slug)
    messages.success(request, f"{membership.user.username} is now {membership.get_role_display()}.")
    if membership.user_id == request.user.pk and membership.role != Role.LEAD:
        return redirect("project_overview", project.slug)  # no longer allowed on this page
    return redirect("project_members", project.slug)


@require_POST
def project_member_remove(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, Role.LEAD)
    membership = get_object_or_404(
        Membership.objects.select_related("user"), project=project, pk=pk
    )
    try:
        remove_member(membership=membership, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("project_members", project.slug)
    messages.success(request, f"{membership.user.username} was removed from the project.")
    if membership.user_id == request.user.pk:
        return redirect("home")
    return redirect("project_members", project.slug)
