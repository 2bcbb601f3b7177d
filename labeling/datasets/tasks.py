"""The export job: a thin task that takes an id and calls the service."""

from celery import shared_task
from django.conf import settings

from .services import run_export


@shared_task(bind=True, acks_late=True, max_retries=20)
def run_export_task(self, export_id: int) -> str:
    # acks_late + reject_on_worker_lost: a worker that dies mid-export leaves the message
    # unacknowledged, so the broker hands it out again and the next worker takes over.
    outcome = run_export(export_id=export_id)
    if outcome == "busy":
        # Another worker is (or was until lately) on it: look again once it would be stale.
        raise self.retry(countdown=getattr(settings, "EXPORT_STALE_SECONDS", 300))
    return outcome
