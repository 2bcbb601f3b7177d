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
from collections.abc import Callable

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


GIVE_UP = "gave up: put back too many times"
TASK_OPTIONS = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "max_retries": MAX_REQUEUES,
    "ignore_result": True,
}


def _settle(task, outcome: services.UnitOutcome, give_up: Callable[[], None]) -> str:
    """Retry a retryable or busy outcome (backoff or wait), giving up after MAX_REQUEUES."""
    if outcome.kind not in ("retry", "busy"):
        return outcome.kind
    if task.request.retries >= MAX_REQUEUES:
        give_up()
        return "failed"
    countdown = (
        backoff(outcome.attempt, outcome.retry_after) if outcome.kind == "retry" else outcome.wait
    )
    raise task.retry(countdown=countdown)


def _publish(task, ids: list[int]) -> None:
    """Publish one message per id over one broker connection."""
    if not ids:
        return
    with task.app.producer_or_acquire() as producer:
        for pk in ids:
            task.apply_async(args=[pk], producer=producer)


@shared_task(**TASK_OPTIONS)
def run_generation_unit(self, unit_id: int) -> str:
    outcome = services.execute_unit(unit_id=unit_id, max_attempts=MAX_ATTEMPTS)
    return _settle(self, outcome, lambda: services.fail_unit(unit_id=unit_id, message=GIVE_UP))


def enqueue_units(unit_ids: list[int]) -> None:
    _publish(run_generation_unit, unit_ids)


@shared_task(**TASK_OPTIONS)
def run_screening(self, screening_id: int) -> str:
    """Screen one candidate; the same retry policy as a generation unit."""
    from . import screening

    outcome = screening.execute_screening(screening_id=screening_id, max_attempts=MAX_ATTEMPTS)
    return _settle(
        self,
        outcome,
        lambda: screening.fail_screening(screening_id=screening_id, message=GIVE_UP),
    )


def enqueue_screenings(screening_ids: list[int]) -> None:
    _publish(run_screening, screening_ids)
