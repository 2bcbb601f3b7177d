"""Sessions live in the database with their user's id, and a request reads both in one
statement; Django's checks of a logged-in session (password hash, active, expiry) still hold."""

from datetime import timedelta
from importlib import import_module

import pytest
from django.apps import apps
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DjangoStore
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from labeling.accounts.models import Session
from labeling.accounts.sessions import SessionStore
from labeling.accounts.tasks import clear_expired_sessions
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

copy_sessions = import_module("labeling.accounts.migrations.0004_session").copy_sessions


def _log_in(client, user):
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return client.cookies["sessionid"].value


def test_logging_in_stores_the_session_with_the_users_id(client, trainer):
    key = _log_in(client, trainer)
    row = Session.objects.get(session_key=key)
    assert row.user_id == trainer.pk
    assert row.get_decoded()[SESSION_KEY] == str(trainer.pk)


def test_a_request_reads_its_session_and_its_user_in_one_statement(client, trainer):
    _log_in(client, trainer)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("wellbeing"))
    assert response.status_code == 200
    assert response.context["user"] == trainer
    reads = [
        q["sql"]
        for q in ctx.captured_queries
        if "accounts_user" in q["sql"] or "accounts_session" in q["sql"]
    ]
    assert len(reads) == 1, reads
    assert "accounts_session" in reads[0] and "JOIN accounts_user" in reads[0]


def test_a_password_change_elsewhere_logs_the_session_out(client, trainer):
    _log_in(client, trainer)
    trainer.set_password("another-password-2")
    trainer.save()
    response = client.get(reverse("wellbeing"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_a_deactivated_user_is_logged_out(client, trainer):
    _log_in(client, trainer)
    trainer.is_active = False
    trainer.save()
    assert client.get(reverse("wellbeing")).status_code == 302


def test_an_expired_session_is_not_read(client, trainer):
    key = _log_in(client, trainer)
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(1))
    assert client.get(reverse("wellbeing")).status_code == 302


def test_the_daily_sweep_deletes_expired_sessions_only(client, trainer, other_trainer):
    stale = _log_in(client, trainer)
    Session.objects.filter(session_key=stale).update(expire_date=timezone.now() - timedelta(1))
    live = _log_in(Client(), other_trainer)
    assert clear_expired_sessions() == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == [live]


def test_logging_out_deletes_the_session(client, trainer):
    key = _log_in(client, trainer)
    client.post(reverse("logout"))
    assert not Session.objects.filter(session_key=key).exists()
    assert client.get(reverse("wellbeing")).status_code == 302


def test_deleting_a_user_deletes_their_sessions(client, trainer):
    key = _log_in(client, trainer)
    trainer.delete()
    assert not Session.objects.filter(session_key=key).exists()


def test_a_session_that_names_no_user_is_stored_without_one():
    store = SessionStore()
    store["seen"] = True
    store.create()
    assert Session.objects.get(session_key=store.session_key).user_id is None


def test_the_migration_carries_over_live_sessions_of_djangos_table(trainer, other_trainer):
    """Upgrading logs nobody out: live rows of django_session move, with their user's id;
    expired ones and those of deleted users stay behind."""
    live = DjangoStore()
    live.update({SESSION_KEY: str(trainer.pk)})
    live.create()
    expired = DjangoStore()
    expired.update({SESSION_KEY: str(other_trainer.pk)})
    expired.set_expiry(-60)
    expired.create()
    orphan = DjangoStore()
    orphan.update({SESSION_KEY: "987654"})
    orphan.create()

    copy_sessions(apps, None)

    moved = {s.session_key: s.user_id for s in Session.objects.all()}
    assert moved == {live.session_key: trainer.pk}
