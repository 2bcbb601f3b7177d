"""Screening candidates with a moderation endpoint, and what a harmful verdict does.

A screened-harmful candidate gets the same harm bits a trainer's flag gives it (so the
opt-in routing and the content warning treat both alike), `sexual/minors` quarantines the
prompt as a trainer's flag does, and the project may move such items into a chosen queue.
Without a moderation endpoint nothing is screened and no candidate claims to be.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from labeling.judging.models import Item, ItemCandidate
from labeling.judging.services import mark_candidate_harm, quarantine_prompt
from labeling.projects.models import Candidate, Project
from labeling.projects.taxonomy import QUARANTINE_KEY, harm_mask

from . import backends
from .models import CandidateScreening, ModerationEndpoint
from .services import UnitOutcome

log = logging.getLogger(__name__)

Status = CandidateScreening.Status


# Configuration --------------------------------------------------------------------------------


def moderation_for(*, project: Project) -> ModerationEndpoint | None:
    return ModerationEndpoint.objects.filter(project=project).first()


@transaction.atomic
def save_moderation(*, moderation: ModerationEndpoint) -> ModerationEndpoint:
    """Validate and save a project's moderation endpoint (new or edited)."""
    moderation.full_clean()
    moderation.save()
    return moderation


@transaction.atomic
def remove_moderation(*, project: Project) -> None:
    """Stop screening; results already recorded stay on their candidates."""
    ModerationEndpoint.objects.filter(project=project).delete()


# Asking for screenings ------------------------------------------------------------------------


def request_screening(*, candidate_ids: list[int]) -> int:
    """Queue a screening for each candidate not screened yet (or whose screening failed)."""
    if not candidate_ids:
        return 0
    CandidateScreening.objects.bulk_create(
        [CandidateScreening(candidate_id=cid) for cid in candidate_ids],
        ignore_conflicts=True,
        batch_size=1000,
    )
    CandidateScreening.objects.filter(candidate_id__in=candidate_ids, status=Status.FAILED).update(
        status=Status.QUEUED, attempts=0, error="", error_status=None, updated_at=timezone.now()
    )
    ids = list(
        CandidateScreening.objects.filter(
            candidate_id__in=candidate_ids, status=Status.QUEUED
        ).values_list("pk", flat=True)
    )
    from .tasks import enqueue_screenings

    transaction.on_commit(lambda: enqueue_screenings(ids))
    return len(ids)


def screen_after_generation(*, candidate: Candidate, project: Project) -> bool:
    """Queue the screening of a freshly generated candidate, if the project screens them."""
    if not ModerationEndpoint.objects.filter(project=project, screen_generated=True).exists():
        return False
    return bool(request_screening(candidate_ids=[candidate.pk]))


@transaction.atomic
def screen_existing(*, project: Project) -> int:
    """Queue every live candidate of the project that has no screening, or a failed one."""
    if moderation_for(project=project) is None:
        return 0
    ids = list(
        Candidate.objects.filter(
            prompt__project=project,
            prompt__deleted_at__isnull=True,
            prompt__quarantined_at__isnull=True,
        )
        .filter(Q(screening__isnull=True) | Q(screening__status=Status.FAILED))
        .values_list("pk", flat=True)
    )
    return request_screening(candidate_ids=ids)


# Running one screening ------------------------------------------------------------------------


def _lease(moderation: ModerationEndpoint, now: datetime) -> datetime:
    return now + timedelta(
        seconds=moderation.timeout_seconds + settings.GENERATION_LEASE_MARGIN_SECONDS
    )


def claim_screening(*, screening_id: int, moderation: ModerationEndpoint) -> int | None:
    """Take a queued screening (or a running one whose worker died); the attempt number."""
    now = timezone.now()
    claimed = (
        CandidateScreening.objects.filter(pk=screening_id)
        .filter(Q(status=Status.QUEUED) | Q(status=Status.RUNNING, lease_expires_at__lt=now))
        .update(
            status=Status.RUNNING,
            attempts=F("attempts") + 1,
            lease_expires_at=_lease(moderation, now),
            updated_at=now,
        )
    )
    if not claimed:
        return None
    return CandidateScreening.objects.values_list("attempts", flat=True).get(pk=screening_id)


def execute_screening(*, screening_id: int, max_attempts: int) -> UnitOutcome:
    """Claim a screening, send the candidate's text to the moderation endpoint, record it."""
    screening = (
        CandidateScreening.objects.select_related("candidate__prompt__project")
        .filter(pk=screening_id)
        .first()
    )
    if screening is None:
        return UnitOutcome("skipped")
    prompt = screening.candidate.prompt
    moderation = moderation_for(project=prompt.project)
    # Deleted text is never sent out again; a quarantined prompt needs no more screening.
    if moderation is None:
        reason = "no moderation endpoint is configured"
    elif prompt.deleted_at:
        reason = "the prompt was deleted"
    elif prompt.quarantined_at:
        reason = "the prompt is quarantined"
    else:
        reason = ""
    if reason:
        fail_screening(screening_id=screening_id, message=reason)
        return UnitOutcome("failed", message=reason)
    attempt = claim_screening(screening_id=screening_id, moderation=moderation)
    if attempt is None:
        screening.refresh_from_db()
        if screening.status == Status.RUNNING and screening.lease_expires_at:
            left = (screening.lease_expires_at - timezone.now()).total_seconds()
            return UnitOutcome("busy", wait=max(0.5, left + 0.5))
        return UnitOutcome("skipped")
    try:
        verdict = backends.moderate(endpoint=moderation, text=screening.candidate.text)
    except backends.GenerationError as exc:
        return _store_error(screening_id=screening_id, exc=exc, attempt=attempt, last=max_attempts)
    record_verdict(screening_id=screening_id, verdict=verdict, moderation=moderation)
    return UnitOutcome("done", attempt=attempt)


def _store_error(
    *, screening_id: int, exc: backends.GenerationError, attempt: int, last: int
) -> UnitOutcome:
    message = exc.message[:500]
    running = CandidateScreening.objects.filter(pk=screening_id, status=Status.RUNNING)
    if exc.retryable and attempt < last:
        running.update(
            status=Status.QUEUED, error=message, error_status=exc.status, lease_expires_at=None
        )
        log.info("screening %s attempt %s will be retried: %s", screening_id, attempt, message)
        return UnitOutcome("retry", attempt=attempt, retry_after=exc.retry_after, message=message)
    running.update(
        status=Status.FAILED, error=message, error_status=exc.status, lease_expires_at=None
    )
    log.warning("screening %s failed after %s attempt(s): %s", screening_id, attempt, message)
    return UnitOutcome("failed", attempt=attempt, message=message)


def fail_screening(*, screening_id: int, message: str) -> None:
    """Give up on a screening that could not be run (put back too many times)."""
    CandidateScreening.objects.filter(pk=screening_id).exclude(status=Status.DONE).update(
        status=Status.FAILED, error=message[:500], lease_expires_at=None
    )


def harmful_keys(*, scores: dict[str, float], moderation: ModerationEndpoint) -> list[str]:
    """The taxonomy keys of the categories scored at or above the threshold."""
    mapping = moderation.category_map or {}
    keys = {
        mapping.get(category, "")
        for category, score in scores.items()
        if score >= moderation.threshold
    }
    return sorted(k for k in keys if k)


@transaction.atomic
def record_verdict(
    *, screening_id: int, verdict: backends.Moderation, moderation: ModerationEndpoint
) -> CandidateScreening:
    """Store the scores on the screening and mark the candidate if they say it is harmful."""
    screening = CandidateScreening.objects.select_for_update().get(pk=screening_id)
    keys = harmful_keys(scores=verdict.scores, moderation=moderation)
    screening.status = Status.DONE
    screening.flagged = bool(keys)
    screening.categories = keys
    screening.scores = verdict.scores
    screening.server_flagged = verdict.flagged
    screening.model = verdict.model
    screening.threshold = moderation.threshold
    screening.error, screening.error_status = "", None
    screening.lease_expires_at = None
    screening.screened_at = timezone.now()
    screening.save()
    if keys:
        mark_harmful(candidate_id=screening.candidate_id, keys=keys, moderation=moderation)
    return screening


# What a harmful verdict does ------------------------------------------------------------------


def mark_harmful(*, candidate_id: int, keys: list[str], moderation: ModerationEndpoint) -> None:
    """Give a candidate and its items the harm bits a trainer's flag would; route; quarantine."""
    candidate = Candidate.objects.select_for_update().select_related("prompt").get(pk=candidate_id)
    mark_candidate_harm(candidate_id=candidate_id, mask=harm_mask(keys))
    _route(items=Item.objects.filter(candidates=candidate_id), moderation=moderation)
    if QUARANTINE_KEY in keys:
        quarantine_prompt(
            prompt_id=candidate.prompt_id, actor=None, reason="screened by the moderation endpoint"
        )


def carry_harm(*, project: Project, items: list[Item]) -> None:
    """New items take on their candidates' harm bits (and the screening route) at once."""
    if not items:
        return
    item_ids = [i.pk for i in items]
    # Locking the candidates orders this against a screening recording its verdict.
    candidate_ids = set(
        ItemCandidate.objects.filter(item_id__in=item_ids).values_list("candidate_id", flat=True)
    )
    candidates = list(
        Candidate.objects.select_for_update()
        .filter(pk__in=candidate_ids)
        .order_by("pk")
        .values_list("pk", "harm_mask")
    )
    for cid, mask in candidates:
        if mask:
            Item.objects.filter(pk__in=item_ids, candidates=cid).update(
                harm_mask=F("harm_mask").bitor(mask)
            )
    moderation = moderation_for(project=project)
    if moderation is None or moderation.route_to_queue_id is None:
        return
    flagged = CandidateScreening.objects.filter(
        candidate_id__in=[cid for cid, _ in candidates], flagged=True
    ).values_list("candidate_id", flat=True)
    _route(
        items=Item.objects.filter(pk__in=item_ids, candidates__in=list(flagged)),
        moderation=moderation,
    )


def _route(*, items, moderation: ModerationEndpoint) -> int:
    queue = moderation.route_to_queue
    if queue is None:
        return 0
    return (
        Item.objects.filter(pk__in=items.values("pk"), is_gold=False)
        .exclude(queue=queue)
        .update(
            queue=queue,
            open_slots=Greatest(queue.overlap - F("n_judgments") - F("n_leases"), 0),
            updated_at=timezone.now(),
        )
    )


# Reading ---------------------------------------------------------------------------------------


def screenings_for(candidate_ids) -> dict[int, CandidateScreening]:
    """The screenings of these candidates by candidate id (absent: not screened)."""
    return {
        s.candidate_id: s for s in CandidateScreening.objects.filter(candidate_id__in=candidate_ids)
    }
