"""The lead's page for importing prompts from a JSONL or CSV file."""

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from .access import get_project_for
from .importing import ImportFileError, describe_batch, import_prompts
from .models import Membership

RECENT_IMPORTS = 10


class ImportForm(forms.Form):
    file = forms.FileField(
        label="File", help_text=".jsonl (one JSON object per line) or .csv with a header row"
    )


@require_http_methods(["GET", "POST"])
def import_page(request: HttpRequest, slug: str) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, Membership.Role.LEAD)
    errors = []
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                batch = import_prompts(
                    project=project, fileobj=upload, filename=upload.name, by=request.user
                )
            except ImportFileError as exc:
                errors = exc.errors
            else:
                messages.success(request, describe_batch(batch))
                response = HttpResponseRedirect(reverse("project_import", args=[project.slug]))
                response.status_code = 303  # See Other: reloading the page must not re-post.
                return response
    else:
        form = ImportForm()
    context = {
        "project": project,
        "form": form,
        "errors": errors,
        "batches": project.imports.select_related("created_by").order_by("-created_at")[
            :RECENT_IMPORTS
        ],
    }
    return render(
        request, "projects/import.html", context, status=400 if request.method == "POST" else 200
    )
