"""What a judgment costs: one transaction per submit, a bounded number of statements, and the
dashboard's rollups kept by submit and skip equal to the rollups rebuilt from the rows."""

import tempfile
from contextlib import contextmanager

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from labeling.judging import rollups, services
from labeling.judging.models import Assignment, Judgment, QueueMinute, TrainerDay, TrainerSeconds
from tests.factories import PASSWORD, make_item

from .helpers import answer_for

JUDGE = services.JudgmentInput


def _statements(ctx) -> list[str]:
    return [q["sql"].strip().split()[0].upper() for q in ctx.captured_queries]


def _first_of_two_items(client, project, trainer) -> Assignment:
    """The trainer, logged in, leases the first of two items on the ordinary path (no gold:
    a gold draw, 1 in 10 by default, would add a look-up)."""
    project.gold_rate = 0
    project.save(update_fields=["gold_rate"])
    make_item(project, prompt="first")
    make_item(project, prompt="second")
    client.login(username=trainer.username, password=PASSWORD)
    response = client.post(reverse("work_next", args=[project.slug]))
    return Assignment.objects.get(code=response.url.rstrip("/").split("/")[-1])


@pytest.mark.django_db(transaction=True)
def test_a_submit_stores_the_judgment_and_leases_the_next_item_in_one_commit(
    client, project, trainer
):
    first = _first_of_two_items(client, project, trainer)
    winner = first.display_order[0]
    body = answer_for(first, winner=winner)

    with CaptureQueriesContext(connection) as ctx:
        response = client.post(
            reverse("assignment_submit", args=[first.code]),
            body,
            headers={"HX-Request": "true"},
        )

    assert response.status_code == 200
    following = Assignment.objects.get(trainer=trainer, status=Assignment.Status.LEASED)
    assert f'data-assignment="{following.code}"' in response.content.decode()
    assert Judgment.objects.get(assignment=first).preferred_id == winner
    kinds = _statements(ctx)
    assert kinds.count("COMMIT") == 1  # the judgment and the next lease: one WAL flush
    assert "SAVEPOINT" not in kinds
    # Session (in the database here; in Redis in production), user, assignment, rubric; the
    # writes and the claim; the next item's responses and the day's count.
    assert len(kinds) <= 21, "\n".join(q["sql"][:120] for q in ctx.captured_queries)


@contextmanager
def _round_trips(conn):
    """Counts round trips to PostgreSQL in the block: libpq's protocol trace (PQtrace) shows
    one ReadyForQuery from the server per wait on it (a statement on its own, a pipeline's
    sync, a BEGIN or COMMIT). Yields a list that holds the count after the block."""
    counted: list[int] = []
    with tempfile.TemporaryFile() as trace:
        conn.pgconn.trace(trace.fileno())
        try:
            yield counted
        finally:
            conn.pgconn.untrace()
        trace.seek(0)
        lines = trace.read().decode(errors="replace").splitlines()
    counted.append(sum("\tB\t" in line and "ReadyForQuery" in line for line in lines))


@pytest.mark.django_db(transaction=True)
def test_a_submit_waits_on_postgresql_eight_times(client, project, trainer):
    """The session with its user, the assignment; BEGIN (psycopg waits for it, in a pipeline
    too), the lock; the writes with the next claim's reads; the claim with its lease; COMMIT;
    the next item's responses with today's count."""
    first = _first_of_two_items(client, project, trainer)
    # The item's page first: the rubric is cached from there on, as in production.
    client.get(reverse("assignment", args=[first.code]))
    body = answer_for(first, winner=first.display_order[0])

    with _round_trips(connection.connection) as waits:
        response = client.post(
            reverse("assignment_submit", args=[first.code]), body, headers={"HX-Request": "true"}
        )
    assert response.status_code == 200
    assert Assignment.objects.filter(trainer=trainer, status=Assignment.Status.LEASED).exists()
    assert waits == [8]


@pytest.mark.django_db(transaction=True)
def test_a_failed_claim_after_a_submit_keeps_the_judgment(client, project, trainer):
    """Nothing left to lease: the judgment is committed all the same, and the page says so."""
    make_item(project, prompt="only")
    client.login(username=trainer.username, password=PASSWORD)
    response = client.post(reverse("work_next", args=[project.slug]))
    only = Assignment.objects.get(code=response.url.rstrip("/").split("/")[-1])
    response = client.post(
        reverse("assignment_submit", args=[only.code]),
        answer_for(only, winner=only.display_order[1]),
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert 'data-testid="done"' in response.content.decode()
    assert Judgment.objects.filter(assignment=only).exists()


def _rollup_rows() -> dict[str, list[tuple]]:
    return {
        "days": sorted(TrainerDay.objects.values_list("trainer_id", "day", *rollups.DAY_COUNTERS)),
        "seconds": sorted(
            TrainerSeconds.objects.filter(n__gt=0).values_list("trainer_id", "seconds", "n")
        ),
        "minutes": sorted(
            QueueMinute.objects.values_list("queue_id", "minute", "shard", "judgments", "counted")
        ),
    }


def test_rollups_kept_by_submit_skip_and_revision_equal_a_rebuild(
    project, trainer, other_trainer, lead
):
    for i in range(5):
        make_item(project, prompt=f"p{i}")
    a = services.claim_next(trainer=trainer, project=project)
    first = services.submit_judgment(
        trainer=trainer,
        assignment=a,
        answer=JUDGE(
            preferred_id=a.display_order[0],
            strength=2,
            time_spent_ms=12_400,
            flags={(a.display_order[1], "violence")},
            rationale="violent",
        ),
    )
    b = services.claim_next(trainer=trainer, project=project)
    services.submit_judgment(trainer=trainer, assignment=b, answer=JUDGE(strength=0))
    c = services.claim_next(trainer=other_trainer, project=project)
    services.skip_assignment(trainer=other_trainer, assignment=c, reason="unclear")
    d = services.claim_next(trainer=other_trainer, project=project)
    services.submit_judgment(
        trainer=other_trainer,
        assignment=d,
        answer=JUDGE(preferred_id=d.display_order[1], strength=3, time_spent_ms=7_000),
    )
    # The lead returns the first judgment; the trainer revises it (another winner, no flag).
    services.review_judgment(judgment=first, by=lead, accept=False, comment="look again")
    returned = services.claim_next(trainer=trainer, project=project)
    assert returned.pk == a.pk
    services.submit_judgment(
        trainer=trainer,
        assignment=returned,
        answer=JUDGE(preferred_id=a.display_order[1], strength=1, time_spent_ms=30_000),
    )

    live = _rollup_rows()
    assert [row[2:] for row in live["days"] if row[0] == trainer.pk] == [(2, 0, 0, 0, 1, 0, 0)]
    assert [row[2:] for row in live["days"] if row[0] == other_trainer.pk] == [
        (1, 1, 0, 0, 1, 0, 0)
    ]
    rollups.rebuild_rollups(project=project)
    assert _rollup_rows() == live
