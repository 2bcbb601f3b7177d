"""The lead's pages: live dashboard, queues and trainers, gold items, review."""

from string import ascii_uppercase

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from labeling.generation import screening
from labeling.generation.models import CandidateScreening
from labeling.privacy import services as privacy
from labeling.projects.access import get_project_for
from labeling.projects.models import Candidate, Membership, Project

from . import dashboard, services
from .lead_forms import (
    GoldForm,
    NewQueueForm,
    PersonalDataForm,
    QueueForm,
    QueueSettingsForm,
    ReviewForm,
    TrainerForm,
)
from .models import Assignment, Item, Judgment, Queue

LEAD = Membership.Role.LEAD
STRENGTH_WORDS = {1: "slightly better", 2: "better", 3: "much better"}
PAGE_SIZE = 50


# --- dashboard -----------------------------------------------------------------------------


@require_http_methods(["GET"])
def dashboard_page(request: HttpRequest, slug: str) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, LEAD)
    context = {"project": project, "board": dashboard.project_dashboard(project)}
    template = "judging/lead/dashboard.html#live" if request.htmx else "judging/lead/dashboard.html"
    return render(request, template, context)


@require_POST
def requeue_outdated(request: HttpRequest, slug: str) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, LEAD)
    n = services.requeue_outdated(project=project, by=request.user)
    messages.success(
        request,
        f"{n} judgment{'s' if n != 1 else ''} made under older guidelines went back to "
        "their trainers.",
    )
    return redirect("lead_dashboard", project.slug)


# --- queues and trainers --------------------------------------------------------------------


def _trainers(project: Project) -> list[Membership]:
    """The project's trainers with their open leases and harmful items handed to them.

    Exposure counts what the daily cap counts (`services.harmful_today`): items carrying a
    harm category assigned to the trainer, today in the project's time zone and in total.
    """
    mine = Q(user__assignments__item__project=project)
    harmful = mine & Q(user__assignments__item__harm_mask__gt=0)
    today = services.day_start(project, timezone.now())
    return list(
        Membership.objects.filter(project=project, role=Membership.Role.TRAINER)
        .select_related("user")
        .annotate(
            leases=Count(
                "user__assignments",
                filter=mine & Q(user__assignments__status=Assignment.Status.LEASED),
            ),
            harmful_today=Count(
                "user__assignments",
                filter=harmful & Q(user__assignments__created_at__gte=today),
            ),
            harmful_total=Count("user__assignments", filter=harmful),
        )
        .order_by("user__username")
    )


def _queues_context(project: Project, *, bound: dict | None = None) -> dict:
    members = _trainers(project)
    users = [m.user for m in members]
    bound = bound or {}
    queues = Queue.objects.filter(project=project).prefetch_related("trainers")
    queue_forms = [
        (q, bound.get(q.pk) or QueueForm.for_queue(q, trainers=users))
        for q in queues.order_by("-priority", "id")
    ]
    trainer_forms = [
        (
            m,
            bound.get(("t", m.pk))
            or TrainerForm(
                initial={"daily_cap": m.daily_cap, "is_paused": m.is_paused}, prefix=f"t{m.pk}"
            ),
        )
        for m in members
    ]
    return {
        "project": project,
        "queue_forms": queue_forms,
        "trainer_forms": trainer_forms,
        "new_queue_form": bound.get("new") or NewQueueForm(initial={"overlap": project.overlap}),
    }


@require_http_methods(["GET"])
def queues_page(request: HttpRequest, slug: str) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, LEAD)
    return render(request, "judging/lead/queues.html", _queues_context(project))


@require_POST
def queue_update(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, LEAD)
    queue = get_object_or_404(Queue, project=project, pk=pk)
    users = [m.user for m in _trainers(project)]
    form = QueueForm.for_queue(queue, request.POST, trainers=users)
    if not form.is_valid():
        context = _queues_context(project, bound={queue.pk: form})
        return render(request, "judging/lead/queues.html", context, status=422)
    data = form.cleaned_data
    services.update_queue(
        queue=queue,
        name=data["name"],
        priority=data["priority"],
        overlap=data["overlap"],
        is_paused=data["is_paused"],
        restricted=data["restricted"],
        trainers=form.chosen_trainers(),
    )
    messages.success(request, f"Queue “{queue.name}” saved.")
    return redirect("lead_queues", project.slug)


@require_POST
def queue_pause(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """One-click pause or resume (the queue's other settings stay)."""
    project, _ = get_project_for(request.user, slug, LEAD)
    queue = get_object_or_404(Queue, project=project, pk=pk)
    services.update_queue(
        queue=queue,
        name=queue.name,
        priority=queue.priority,
        overlap=queue.overlap,
        is_paused=not queue.is_paused,
        restricted=queue.restricted,
        trainers=list(queue.trainers.all()),
    )
    state = "paused" if queue.is_paused else "resumed"
    messages.success(request, f"Queue “{queue.name}” {state}.")
    return redirect("lead_queues", project.slug)


@require_POST
def queue_new(request: HttpRequest, slug: str) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, LEAD)
    form = NewQueueForm(request.POST)
    if (
        form.is_valid()
        and Queue.objects.filter(project=project, name=form.cleaned_data["name"]).exists()
    ):
        form.add_error("name", "A queue with this name exists.")
    if not form.is_valid():
        context = _queues_context(project, bound={"new": form})
        return render(request, "judging/lead/queues.html", context, status=422)
    services.default_queue(project)  # the main queue exists before any other
    queue = services.create_queue(project=project, **form.cleaned_data)
    messages.success(request, f"Queue “{queue.name}” created.")
    return redirect("lead_queues", project.slug)


def _trainer_membership(project: Project, pk: int) -> Membership:
    return get_object_or_404(
        Membership.objects.select_related("user"),
        project=project,
        pk=pk,
        role=Membership.Role.TRAINER,
    )


@require_POST
def trainer_update(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, LEAD)
    membership = _trainer_membership(project, pk)
    form = TrainerForm(request.POST, prefix=f"t{membership.pk}")
    if not form.is_valid():
        context = _queues_context(project, bound={("t", membership.pk): form})
        return render(request, "judging/lead/queues.html", context, status=422)
    services.set_trainer_state(
        membership=membership,
        daily_cap=form.cleaned_data["daily_cap"],
        is_paused=form.cleaned_data["is_paused"],
    )
    messages.success(request, f"{membership.user.username} saved.")
    return redirect("lead_queues", project.slug)


@require_POST
def trainer_release(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, LEAD)
    membership = _trainer_membership(project, pk)
    n = services.release_leases(project=project, trainer=membership.user)
    messages.success(
        request, f"Released {n} lease{'s' if n != 1 else ''} of {membership.user.username}."
    )
    return redirect("lead_queues", project.slug)


@require_http_methods(["GET", "POST"])
def queue_settings(request: HttpRequest, slug: str) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, LEAD)
    form = QueueSettingsForm(request.POST or None, instance=Project.objects.get(pk=project.pk))
    if request.method == "POST" and form.is_valid():
        values = {name: form.cleaned_data[name] for name in form.Meta.fields}
        services.update_queue_settings(project=project, **values)
        messages.success(request, "Queue and gold settings saved.")
        return redirect("lead_queues", project.slug)
    status = 422 if request.method == "POST" else 200
    return render(
        request, "judging/lead/settings.html", {"project": project, "form": form}, status=status
    )


# --- items and gold -------------------------------------------------------------------------


@require_http_methods(["GET"])
def items_page(request: HttpRequest, slug: str) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, LEAD)
    show = request.GET.get("show", "")
    items = (
        Item.objects.filter(project=project, prompt__deleted_at__isnull=True)
        .select_related("queue", "prompt")
        .annotate(screened_harmful=Exists(_flagged_screenings(OuterRef("pk"))))
    )
    if show == "gold":
        items = items.filter(is_gold=True)
    elif show == "judged":
        items = items.filter(n_judgments__gt=0)
    page = Paginator(items.order_by("-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request, "judging/lead/items.html", {"project": project, "page": page, "show": show}
    )


def _flagged_screenings(item_ref):
    return CandidateScreening.objects.filter(candidate__items=item_ref, flagged=True)


def _get_item(project: Project, pk: int) -> Item:
    """One of the project's items whose prompt was not deleted."""
    return get_object_or_404(
        Item.objects.select_related("prompt", "queue"),
        project=project,
        pk=pk,
        prompt__deleted_at__isnull=True,
    )


def _slot_candidates(item: Item) -> list[Candidate]:
    return [s.candidate for s in item.slots.select_related("candidate").order_by("slot")]


def _gold_form(project: Project, item: Item, candidates, data=None) -> GoldForm:
    return GoldForm(
        data,
        initial=GoldForm.initial_from(item.gold_answer),
        candidates=candidates,
        flag_choices=list(project.flags.all()),
        ranking=project.mode == Project.Mode.RANKING,
    )


@require_http_methods(["GET"])
def item_page(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, LEAD)
    return _render_item(request, project, _get_item(project, pk))


def _render_item(request, project, item, *, form: GoldForm | None = None, status: int = 200):
    candidates = _slot_candidates(item)
    letters = {c.pk: ascii_uppercase[i] for i, c in enumerate(candidates)}
    dimensions = list(project.dimensions.all())
    judgments = list(
        Judgment.objects.filter(assignment__item=item)
        .select_related("assignment__trainer")
        .prefetch_related("scores", "flags")
        .order_by("created_at", "id")
    )
    columns = [_judgment_column(j, letters, candidates, dimensions) for j in judgments]
    open_assignments = Assignment.objects.filter(
        item=item, status__in=[Assignment.Status.LEASED, Assignment.Status.RETURNED]
    ).select_related("trainer")
    screenings = screening.screenings_for([c.pk for c in candidates])
    personal = privacy.flagged_personal_data(prompt=item.prompt)
    context = {
        "project": project,
        "item": item,
        "candidates": [(letters[c.pk], c) for c in candidates],
        "responses": [
            {
                "letter": letters[c.pk],
                "candidate": c,
                "screening": screenings.get(c.pk),
                "personal_data": c.pk in personal,
            }
            for c in candidates
        ],
        "prompt_personal_data": bool(personal),
        "columns": columns,
        "dimensions": dimensions,
        "open_assignments": list(open_assignments),
        "gold_form": form or _gold_form(project, item, candidates),
        "gold_summary": _gold_summary(item.gold_answer, letters) if item.is_gold else "",
        "agreement": _agreement(columns),
    }
    return render(request, "judging/lead/item.html", context, status=status)


@require_POST
def item_gold(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, LEAD)
    item = _get_item(project, pk)
    if request.POST.get("action") == "unmark":
        services.mark_gold(item=item, answer=None, by=request.user)
        messages.success(request, f"Item {item.pk} is an ordinary item again.")
        return redirect("lead_item", project.slug, item.pk)
    form = _gold_form(project, item, _slot_candidates(item), request.POST)
    if not form.is_valid():
        return _render_item(request, project, item, form=form, status=422)
    services.mark_gold(item=item, answer=form.answer(), by=request.user)
    messages.success(request, f"Item {item.pk} is a gold item.")
    return redirect("lead_item", project.slug, item.pk)


@require_POST
def item_personal_data(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Redact or remove text a trainer flagged as personal data (a response or its prompt)."""
    project, _ = get_project_for(request.user, slug, LEAD)
    item = _get_item(project, pk)
    form = PersonalDataForm(request.POST, candidates=_slot_candidates(item))
    if not form.is_valid():
        messages.error(request, "Pick redact or remove, and the text.")
        return redirect("lead_item", project.slug, item.pk)
    candidate = form.cleaned_data["candidate"]
    what = "the response" if candidate else "the prompt"
    try:
        if form.cleaned_data["action"] == "redact":
            counts = privacy.redact_flagged(
                prompt=item.prompt, candidate=candidate, by=request.user
            )
        else:
            done = privacy.remove_flagged(prompt=item.prompt, candidate=candidate, by=request.user)
    except privacy.NotFlagged as exc:
        messages.error(request, str(exc))
        return redirect("lead_item", project.slug, item.pk)
    if form.cleaned_data["action"] == "remove":
        messages.success(
            request,
            f"The prompt, its {done.candidates_matched} responses and {done.judgments_matched} "
            f"judgments left every view, queue and later export; {done.exports_withdrawn} "
            "earlier exports withdrawn.",
        )
        return redirect("lead_items", project.slug)
    if counts:
        found = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
        messages.success(request, f"Redacted {found} in {what}; earlier exports withdrawn.")
    else:
        messages.error(
            request,
            f"Nothing the redactor detects was found in {what} (names and the like are not "
            "detected): remove it instead if it must go.",
        )
    return redirect("lead_item", project.slug, item.pk)


def _describe(preferred_id, strength, ranking, letters: dict[int, str]) -> str:
    """An answer in the letters given (shown order on the review page, slots elsewhere)."""
    if ranking:
        return " > ".join(
            " = ".join(sorted(letters.get(c, "?") for c in group)) for group in ranking
        )
    if not strength:
        return "About the same"
    return f"{letters.get(preferred_id, '?')} {STRENGTH_WORDS.get(strength, '')}"


def _gold_summary(answer: dict | None, letters: dict[int, str]) -> str:
    answer = answer or {}
    preferred = answer.get("preferred")
    text = "About the same" if preferred is None else f"{letters.get(preferred, '?')} is better"
    if answer.get("tolerance"):
        text += " (“about the same” also accepted)"
    flags = [f"{letters.get(c, '?')} · {k}" for c, k in answer.get("flags", [])]
    if flags:
        text += "; flags: " + ", ".join(flags)
    return text


def _judgment_column(j: Judgment, letters, candidates, dimensions) -> dict:
    scores = {(s.candidate_id, s.dimension_id): s.value for s in j.scores.all()}
    flags = {}
    for f in j.flags.all():
        flags.setdefault(f.candidate_id, []).append(f.key)
    used_dims = {d for (_, d) in scores}
    return {
        "judgment": j,
        "answer": _describe(j.preferred_id, j.strength, j.ranking, letters),
        "winner": (j.ranking[0] if j.ranking else [j.preferred_id]) if j.strength != 0 else [],
        "shown": "".join(letters.get(c, "?") for c in j.shown_order),
        "per_candidate": [
            {
                "letter": letters[c.pk],
                "scores": [
                    (d.name, scores.get((c.pk, d.pk))) for d in dimensions if d.pk in used_dims
                ],
                "flags": sorted(flags.get(c.pk, [])),
            }
            for c in candidates
        ],
    }


def _agreement(columns: list[dict]) -> str:
    """How many judgments pick the most picked winner: '2 of 3 agree on A'."""
    counted = [c for c in columns if c["judgment"].counts and c["judgment"].gold_correct is None]
    if len(counted) < 2:
        return ""
    tally: dict[str, int] = {}
    for c in counted:
        key = c["answer"].split(" ")[0] if c["judgment"].strength else c["answer"]
        tally[key] = tally.get(key, 0) + 1
    best, n = max(tally.items(), key=lambda kv: kv[1])
    return f"{n} of {len(counted)} agree on {best}"


# --- review ---------------------------------------------------------------------------------


@require_http_methods(["GET"])
def judgments_page(request: HttpRequest, slug: str) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, LEAD)
    show = request.GET.get("show", "")
    judgments = Judgment.objects.filter(assignment__item__project=project).select_related(
        "assignment__trainer", "assignment__item"
    )
    filters = {
        "unreviewed": Q(review_status=""),
        "returned": Q(review_status="returned"),
        "gold": Q(gold_correct__isnull=False),
        "late": Q(counts=False),
    }
    if show in filters:
        judgments = judgments.filter(filters[show])
    trainer = request.GET.get("trainer", "")
    if trainer.isdigit():
        judgments = judgments.filter(assignment__trainer_id=int(trainer))
    page = Paginator(judgments.order_by("-created_at", "-id"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "judging/lead/judgments.html",
        {"project": project, "page": page, "show": show, "trainer": trainer},
    )


def _review_context(project: Project, judgment: Judgment, form: ReviewForm | None) -> dict:
    assignment = judgment.assignment
    item = assignment.item
    shown_letters = {cid: ascii_uppercase[i] for i, cid in enumerate(judgment.shown_order)}
    texts = {c.pk: c for c in Candidate.objects.filter(pk__in=judgment.shown_order)}
    screenings = screening.screenings_for(judgment.shown_order)
    dimensions = list(project.dimensions.all())
    dim_names = {d.pk: d.name for d in dimensions}
    scores = {(s.candidate_id, s.dimension_id): s.value for s in judgment.scores.all()}
    flags: dict[int, list[str]] = {}
    for f in judgment.flags.all():
        flags.setdefault(f.candidate_id, []).append(f.key)
    winners = set()
    if judgment.ranking:
        winners = set(judgment.ranking[0])
    elif judgment.preferred_id:
        winners = {judgment.preferred_id}
    responses = [
        {
            "letter": shown_letters[cid],
            "candidate": texts.get(cid),
            "scores": [
                (d.name, scores.get((cid, d.pk))) for d in dimensions if (cid, d.pk) in scores
            ],
            "flags": sorted(flags.get(cid, [])),
            "winner": cid in winners,
            "screening": screenings.get(cid),
        }
        for cid in judgment.shown_order
    ]
    revisions = [
        {
            "revision": r,
            "answer": _describe(
                r.snapshot.get("preferred"),
                r.snapshot.get("strength"),
                r.snapshot.get("ranking"),
                shown_letters,
            ),
            "scores": _scores_by_letter(r.snapshot.get("scores", []), shown_letters, dim_names),
            "flags": [(shown_letters.get(c, "?"), k) for c, k in r.snapshot.get("flags", [])],
        }
        for r in judgment.revisions.all()
    ]
    return {
        "project": project,
        "judgment": judgment,
        "assignment": assignment,
        "item": item,
        "turns": item.prompt.messages,
        "responses": responses,
        "answer": _describe(
            judgment.preferred_id, judgment.strength, judgment.ranking, shown_letters
        ),
        "revisions": revisions,
        "form": form
        or ReviewForm(
            initial={"comment": judgment.review_comment if judgment.review_status else ""}
        ),
        "gold_summary": _gold_summary(item.gold_answer, shown_letters) if item.is_gold else "",
    }


def _scores_by_letter(scores, letters: dict[int, str], dim_names: dict) -> list[tuple]:
    """[(letter, "Helpfulness 6 · Truthfulness 5 …")] in the shown order."""
    grouped: dict[str, list[str]] = {}
    for cid, dim_id, value in scores:
        grouped.setdefault(letters.get(cid, "?"), []).append(
            f"{dim_names.get(dim_id, dim_id)} {value}"
        )
    return [(letter, " · ".join(parts)) for letter, parts in sorted(grouped.items())]


def _get_judgment(project: Project, pk: int) -> Judgment:
    return get_object_or_404(
        Judgment.objects.select_related(
            "assignment__trainer", "assignment__item__prompt", "reviewed_by"
        ).prefetch_related("scores", "flags", Prefetch("revisions")),
        assignment__item__project=project,
        pk=pk,
    )


@require_http_methods(["GET"])
def judgment_page(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, LEAD)
    judgment = _get_judgment(project, pk)
    return render(request, "judging/lead/review.html", _review_context(project, judgment, None))


@require_POST
def judgment_review(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    project, _ = get_project_for(request.user, slug, LEAD)
    judgment = _get_judgment(project, pk)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        context = _review_context(project, judgment, form)
        return render(request, "judging/lead/review.html", context, status=422)
    accept = form.cleaned_data["decision"] == "accept"
    services.review_judgment(
        judgment=judgment, by=request.user, accept=accept, comment=form.cleaned_data["comment"]
    )
    who = judgment.assignment.trainer.username
    messages.success(
        request,
        "Judgment accepted." if accept else f"Judgment returned to {who} with your comment.",
    )
    return redirect("lead_judgment", project.slug, judgment.pk)
