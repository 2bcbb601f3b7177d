"""Periodic jobs of accounts. Thin: each calls one function."""

from celery import shared_task

from .sessions import SessionStore


@shared_task(acks_late=True, ignore_result=True)
def clear_expired_sessions() -> int:
    """Delete sessions past their expiry (celery beat, daily): what `clearsessions` does."""
    return SessionStore.clear_expired()
