"""The database backend's health check: a sound connection is reused without a round trip,
one the server has ended is replaced before a request uses it."""

import time

import psycopg
import pytest
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)


def _check_as_a_request_starts() -> None:
    connection.health_check_enabled = True
    connection.health_check_done = False
    connection.close_if_health_check_failed()


def test_a_sound_idle_connection_is_reused_without_asking_the_server(monkeypatch):
    connection.ensure_connection()
    before = connection.connection
    asked = []
    monkeypatch.setattr(connection, "is_usable", lambda: asked.append(1) or True)
    _check_as_a_request_starts()
    assert asked == []
    assert connection.connection is before


def test_a_connection_the_server_ended_is_replaced_before_it_is_used():
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    db = connection.settings_dict
    params = {"dbname": db["NAME"], "user": db["USER"], "host": db["HOST"], "port": db["PORT"]}
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + 5
    while connection.connection.info.backend_pid == pid and time.monotonic() < deadline:
        _check_as_a_request_starts()
        if connection.connection is None:
            break
        time.sleep(0.05)
    assert connection.connection is None, "the ended connection was kept"
    with connection.cursor() as cursor:  # a fresh connection, not an error
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid


def test_a_connection_inside_a_transaction_gets_the_full_check(monkeypatch):
    connection.ensure_connection()
    asked = []
    monkeypatch.setattr(connection, "is_usable", lambda: asked.append(1) or True)
    connection.connection.execute("BEGIN")
    try:
        _check_as_a_request_starts()
    finally:
        connection.connection.execute("ROLLBACK")
    assert asked == [1]
