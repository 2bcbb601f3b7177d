"""Thin Celery tasks: they take ids and call a service. Status lives on the unit row.

Retry policy (declared here, beside the task): a unit is tried at most MAX_ATTEMPTS times on
timeouts, connection errors, 429 and 5xx, waiting BACKOFF_BASE × 2^(attempt-1) seconds (capped
at BACKOFF_CAP, with ±50 % jitter) or the server's Retry-After, whichever is longer. A 4xx that
will not change (401, bad model name) fails the unit at once. A unit that finds its endpoint's
slots all taken, or another worker holding it, goes back to the queue without using an attempt
(at most MAX_REQUEUES times). A screening (`run_screening`) follows the same policy.
"""

import logging
import random

from celery import shared_task
from django.conf import settings

from . import services

log = logging.getLogger(__name__)

MAX_ATTEMPTS = settings.GENERATION_MAX_ATTEMPTS
BACKOFF_BASE = settings.GENERATION_RETRY_BASE_SECONDS
BACKOFF_CAP = settings.GENERATION_RETRY_MAX_SECONDS
RETRY_AFTER_CAP = 600.0
MAX_REQUEUES = 200


def backoff(attempt: int, retry_after: float | None = None) -> float:
    """Seconds to wait before attempt `attempt + 1`."""
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempt - 1)) * random.uniform(0.5, 1.5)
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_CAP) * random.uniform(1.0, 1.1))
    return delay


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_REQUEUES,
    ignore_result=True,
)
def run_generation_unit(self, unit_id: int) -> str:
    outcome = services.execute_unit(unit_id=unit_id, max_attempts=MAX_ATTEMPTS)
    if outcome.kind in ("retry", "busy"):
        if self.request.retries >= MAX_REQUEUES:
            services.fail_unit(unit_id=unit_id, message="gave up: put back too many times")
            return "failed"
        countdown = (
            backoff(outcome.attempt, outcome.retry_after)
            if outcome.kind == "retry"
            else outcome.wait
        )
        raise self.retry(countdown=countdown)
    return outcome.kind


def enqueue_units(unit_ids: list[int]) -> None:
    """Publish one message per unit over one broker connection."""
    if not unit_ids:
        return
    with run_generation_unit.app.producer_or_acquire() as producer:
        for unit_id in unit_ids:
            run_generation_unit.apply_async(args=[unit_id], producer=producer)


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_REQUEUES,
    ignore_result=True,
)
def run_screening(self, screening_id: int) -> str:
    """Screen one candidate; the same retry policy as a generation unit."""
    from . import screening

    outcome = screening.execute_screening(screening_id=screening_id, max_attempts=MAX_ATTEMPTS)
    if outcome.kind in ("retry", "busy"):
        if self.request.retries >= MAX_REQUEUES:
            screening.fail_screening(
                screening_id=screening_id, message="gave up: put back too many times"
            )
            return "failed"
        countdown = (
            backoff(outcome.attempt, outcome.retry_after)
            if outcome.kind == "retry"
            else outcome.wait
        )
        raise self.retry(countdown=countdown)
    return outcome.kind


def enqueue_screenings(screening_ids: list[int]) -> None:
    """Publish one message per screening over one broker connection."""
    if not screening_ids:
        return
    with run_screening.app.producer_or_acquire() as producer:
        for screening_id in screening_ids:
            run_screening.apply_async(args=[screening_id], producer=producer)
