"""Leads record deletion requests; a trainer asks for their own erasure."""

from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from labeling.projects.access import get_project_for
from labeling.projects.models import Membership

from . import services
from .models import DeletionRequest


class DeletionForm(forms.Form):
    source_user_id = forms.CharField(required=False, max_length=200, strip=True)
    text = forms.CharField(required=False, max_length=2000, strip=True, widget=forms.Textarea)

    def clean(self):
        data = super().clean()
        if bool(data.get("source_user_id")) == bool(data.get("text")):
            raise forms.ValidationError("Give either a source user id or a text, not both.")
        return data


@require_http_methods(["GET", "POST"])
def privacy_page(request: HttpRequest, slug: str) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, Membership.Role.LEAD)
    form = DeletionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            done = services.request_deletion(
                project=project,
                by=request.user,
                source_user_id=form.cleaned_data["source_user_id"],
                text=form.cleaned_data["text"],
            )
        except ValueError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                f"Deleted {done.prompts_matched} prompts, {done.candidates_matched} responses "
                f"and {done.judgments_matched} judgments from every view and later export; "
                f"{done.exports_withdrawn} earlier exports withdrawn.",
            )
            return redirect("project_privacy", slug=project.slug)
    requests = DeletionRequest.objects.filter(project=project).select_related("requested_by")
    return render(
        request,
        "privacy/project.html",
        {"project": project, "form": form, "requests": requests},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
def erase_me(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and request.POST.get("confirm") == "erase":
        user = request.user
        logout(request)
        services.erase_trainer(user=user, by=user)
        return render(request, "privacy/erased.html")
    return render(request, "privacy/erase_me.html")
