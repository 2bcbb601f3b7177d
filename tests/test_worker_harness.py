"""The real-worker harness itself: a worker on the test Redis answers a broadcast ping."""

import pytest

from labeling.celery import app
from tests.workers import celery_worker, flush_broker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_real_worker_answers_on_the_test_broker():
    flush_broker()
    with celery_worker(name="harness") as worker:
        replies = app.control.ping(timeout=5.0)
        assert any(name.startswith("harness@") for reply in replies for name in reply)
        assert worker.poll() is None
    assert worker.poll() is not None
