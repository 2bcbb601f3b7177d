"""The trainer's pages: home, the labeling screen, submit, skip, guidelines."""

from django.contrib import messages
from django.contrib.messages import get_messages
from django.db import transaction
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.template import engines
from django.template.backends.utils import csrf_input
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import push_url

from labeling.core import audit
from labeling.core.links import fast_reverse
from labeling.projects.access import get_project_for
from labeling.projects.models import Membership, Project

from . import selectors, services
from .forms import JudgmentForm, SkipForm
from .models import Assignment
from .screen import build_screen

TRAINER = Membership.Role.TRAINER
WORKSPACE = engines["jinja2"]  # the labeling workspace's engine (labeling/core/jinja.py)


def home(request: HttpRequest) -> HttpResponse:
    memberships = (
        Membership.objects.filter(user=request.user)
        .select_related("project")
        .annotate(n_items=Count("project__items", distinct=True))
        .order_by("project__name")
    )
    rows = []
    for m in memberships:
        row = {"membership": m, "project": m.project}
        if m.role == TRAINER and not m.project.is_red_team:  # red teams have no queue
            row["waiting"] = selectors.waiting_for(request.user, m.project)
            row["today"] = selectors.judged_today(request.user, m.project)
        rows.append(row)
    can_create = request.user.has_perm("projects.add_project")
    return render(request, "judging/home.html", {"rows": rows, "can_create": can_create})


def _workspace(
    request: HttpRequest,
    project: Project,
    assignment: Assignment | None,
    *,
    form: JudgmentForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """Render the labeling screen, or only its workspace fragment for htmx requests."""
    dimensions, flags = selectors.rubric(project)
    screen = None
    if assignment is not None:
        candidates, today = selectors.screen_reads(request.user, project, assignment.display_order)
        screen = build_screen(
            assignment,
            project=project,
            dimensions=dimensions,
            flags=flags,
            form=form,
            candidates=candidates,
        )
    else:
        today = selectors.judged_today(request.user, project)
    no_work_reason = "" if assignment else services.why_no_work(request.user, project)
    review = [] if assignment else selectors.qualification_review(request.user, project)
    context = {
        "project": project,
        "screen": screen,
        "no_work_reason": no_work_reason,
        "qualification_review_html": (
            render_to_string(
                "judging/qualification_review.html",
                {"qualification_review": review, "project": project},
                request=request,
            )
            if review
            else ""
        ),
        "today": today,
        "messages": list(get_messages(request)),
        # One CSRF field for both forms: each use of Jinja2's `csrf_input` masks a new token.
        "csrf_field": csrf_input(request),
        # How much is left is counted on the home page only: it is the costliest read here.
    }
    workspace = WORKSPACE.get_template("judging/workspace.html").render(context, request)
    if request.htmx:
        return HttpResponse(workspace, status=status)
    context["workspace"] = mark_safe(workspace)  # noqa: S308 - rendered with autoescape
    return render(request, "judging/label.html", context, status=status)


def _show_next(
    request: HttpRequest, project: Project, assignment: Assignment | None, *, status: int = 200
) -> HttpResponse:
    """After a submit or skip: the next item in place (htmx) or a redirect to it."""
    target = assignment_url(assignment) if assignment else work_url(project)
    if request.htmx or status != 200:
        return push_url(_workspace(request, project, assignment, status=status), target)
    return HttpResponseRedirect(target, status=303)


def _next(request: HttpRequest, project: Project, *, status: int = 200) -> HttpResponse:
    """Claim the next item, then show it."""
    assignment = services.claim_next(trainer=request.user, project=project)
    return _show_next(request, project, assignment, status=status)


def assignment_url(assignment: Assignment) -> str:
    return fast_reverse("assignment", assignment.code)


def work_url(project: Project) -> str:
    return reverse("work_next", args=[project.slug])


@require_http_methods(["GET", "POST"])
def work_next(request: HttpRequest, slug: str) -> HttpResponse:
    project, membership = get_project_for(request.user, slug, TRAINER)
    if services.notice_pending(user=request.user, membership=membership):
        return redirect("project_notice", slug=project.slug)
    assignment = services.claim_next(trainer=request.user, project=project)
    if assignment is None:
        return _workspace(request, project, None)
    return redirect(assignment_url(assignment))


def assignment_page(request: HttpRequest, code) -> HttpResponse:
    assignment = selectors.get_assignment_for(request.user, code)
    project = assignment.item.project
    prompt = assignment.item.prompt
    if not assignment.is_open or prompt.quarantined_at or prompt.deleted_at:
        return redirect("work_next", slug=project.slug)
    return _workspace(request, project, assignment)


@require_POST
def reveal(request: HttpRequest, code, candidate_id: int) -> HttpResponse:
    """Record that the trainer chose to read a response hidden behind a content warning."""
    assignment = selectors.get_assignment_for(request.user, code)
    if candidate_id not in assignment.display_order:
        raise Http404("No such response")
    audit.record(
        action="reveal",
        actor=request.user,
        project=assignment.item.project,
        obj=assignment,
        candidate=candidate_id,
    )
    return HttpResponse(status=204)


@require_http_methods(["GET", "POST"])
def notice(request: HttpRequest, slug: str) -> HttpResponse:
    """Before the first item: confirm being 18 or older and accept the content notice."""
    project, membership = get_project_for(request.user, slug, TRAINER)
    error = ""
    if request.method == "POST":
        if request.POST.get("adult") != "yes" or request.POST.get("accept") != "yes":
            error = "Please confirm both statements to start."
        else:
            services.accept_notice(user=request.user, membership=membership)
            return redirect("work_next", slug=project.slug)
    return render(
        request,
        "judging/notice.html",
        {"project": project, "error": error},
        status=400 if error else 200,
    )


@require_POST
def submit(request: HttpRequest, code) -> HttpResponse:
    assignment = selectors.get_assignment_for(request.user, code)
    project = assignment.item.project
    withdrawn = assignment.item.prompt.quarantined_at or assignment.item.prompt.deleted_at
    if withdrawn and assignment.status != Assignment.Status.SUBMITTED:
        messages.warning(request, "That item was withdrawn while you had it open.")
        return _next(request, project)
    dimensions, flags = selectors.rubric(project)
    form = JudgmentForm(request.POST, assignment=assignment, dimensions=dimensions, flags=flags)
    if assignment.status == Assignment.Status.SUBMITTED:
        # A double click or a retried request: the judgment is stored already.
        return _next(request, project)
    if not form.is_valid():
        return _workspace(request, project, assignment, form=form, status=422)
    try:
        # The judgment and the next lease in one transaction: one commit per request.
        judgment, following = services.submit_and_claim_next(
            trainer=request.user, project=project, assignment=assignment, answer=form.answer()
        )
    except services.AssignmentClosed as exc:
        messages.error(request, str(exc))
        return _next(request, project, status=409)
    if not judgment.counts:
        messages.warning(request, f"{services.LATE_JUDGMENT} Here is your next item.")
        return _show_next(request, project, following, status=409)
    return _show_next(request, project, following)


@require_POST
def skip(request: HttpRequest, code) -> HttpResponse:
    assignment = selectors.get_assignment_for(request.user, code)
    project = assignment.item.project
    form = SkipForm(request.POST)
    if not form.is_valid():
        return _workspace(request, project, assignment, status=422)
    with transaction.atomic():  # the skip and the next lease: one commit
        try:
            services.skip_assignment(
                trainer=request.user, assignment=assignment, reason=form.reason_text()
            )
        except services.AssignmentClosed as exc:
            messages.error(request, str(exc))
        following = services.claim_next(trainer=request.user, project=project)
    return _show_next(request, project, following)


def guidelines(request: HttpRequest, slug: str) -> HttpResponse:
    project, _ = get_project_for(request.user, slug)
    return render(request, "judging/guidelines.html", {"project": project})
