from celery import shared_task

from . import services


@shared_task(acks_late=True, ignore_result=True)
def purge() -> dict:
    """Delete for good the data soft-deleted before the retention window (celery beat)."""
    return services.purge_deleted()
