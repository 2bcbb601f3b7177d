"""Periodic jobs of the assignment engine. Thin: each calls one service."""

from celery import shared_task

from . import services


@shared_task(acks_late=True, ignore_result=True)
def expire_leases() -> int:
    """Return lapsed leases to the pool (celery beat, every minute)."""
    return services.expire_leases()
