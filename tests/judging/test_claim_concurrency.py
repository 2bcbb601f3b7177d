"""32 trainers on separate connections claim and submit at once: no item over k, none lost."""

import threading
import time
import uuid
from collections import Counter

import psycopg
import pytest
from django.db import connection, connections

from labeling.judging import services
from labeling.judging.models import Assignment, Item, Judgment
from labeling.projects.models import Membership
from labeling.projects.services import create_project
from labeling.projects.taxonomy import HARM_BITS
from tests.factories import make_item, make_user

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

N_TRAINERS = 32
N_ITEMS = 24
ROUNDS = 5


def run_crew(project, crew, *, as_the_web_does: bool = False) -> list[BaseException]:
    """Every trainer claims and submits until the queue is empty, all starting together.

    `as_the_web_does`: each submit also leases the next item in the same transaction.
    """
    errors: list[BaseException] = []
    start = threading.Barrier(len(crew))

    def answer(a):
        return services.JudgmentInput(preferred_id=a.display_order[0], strength=1)

    def work(trainer):
        try:
            start.wait()
            if as_the_web_does:
                a = services.claim_next(trainer=trainer, project=project)
                while a is not None:
                    _, a = services.submit_and_claim_next(
                        trainer=trainer, project=project, assignment=a, answer=answer(a)
                    )
                return
            while (a := services.claim_next(trainer=trainer, project=project)) is not None:
                services.submit_judgment(trainer=trainer, assignment=a, answer=answer(a))
        except BaseException as exc:  # noqa: BLE001 - collected and re-raised in the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(t,)) for t in crew]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return errors


@pytest.mark.parametrize(("k", "as_the_web_does"), [(1, False), (3, False), (3, True)])
def test_concurrent_claims_never_overfill_an_item_or_lose_one(k, as_the_web_does):
    assert connection.vendor == "postgresql"
    lead = make_user("lead")
    crew = [make_user(f"c{i}") for i in range(N_TRAINERS)]
    for round_no in range(ROUNDS):
        project = create_project(name=f"race k={k} #{round_no}", created_by=lead)
        services.set_queue_overlap(queue=services.default_queue(project), overlap=k)
        Membership.objects.bulk_create(
            Membership(project=project, user=u, role="trainer") for u in crew
        )
        items = [make_item(project, prompt=f"q{n}") for n in range(N_ITEMS)]

        errors = run_crew(project, crew, as_the_web_does=as_the_web_does)
        assert errors == []

        judged = Counter(
            Judgment.objects.filter(assignment__item__project=project).values_list(
                "assignment__item_id", flat=True
            )
        )
        assert judged == {item.pk: k for item in items}, "every item exactly k times"
        pairs = Assignment.objects.filter(item__project=project).values_list("item", "trainer")
        assert len(pairs) == len(set(pairs)), "no trainer twice on an item"
        assert not Assignment.objects.filter(item__project=project, status="leased").exists()
        for item in Item.objects.filter(project=project):
            assert (item.n_judgments, item.n_leases, item.open_slots) == (k, 0, 0)


def test_concurrent_claims_respect_harm_opt_ins():
    lead = make_user("lead")
    crew = [make_user(f"o{i}") for i in range(N_TRAINERS)]
    opted = {u.pk for u in crew[::2]}
    for u in crew[::2]:
        u.harm_opt_ins = ["violence"]
        u.save()
    project = create_project(name="opt-in race", created_by=lead)
    services.set_queue_overlap(queue=services.default_queue(project), overlap=3)
    Membership.objects.bulk_create(
        Membership(project=project, user=u, role="trainer") for u in crew
    )
    items = [make_item(project, prompt=f"q{n}") for n in range(N_ITEMS)]
    harmful = {i.pk for i in items[::2]}
    Item.objects.filter(pk__in=harmful).update(harm_mask=HARM_BITS["violence"])

    errors = run_crew(project, crew)
    assert errors == []

    seen = Assignment.objects.filter(item__project=project).values_list("item_id", "trainer_id")
    assert all(trainer in opted for item, trainer in seen if item in harmful)
    judged = Counter(item for item, _ in seen)
    assert judged == {item.pk: 3 for item in items}, "opted-in trainers still cover every item"


def test_a_second_tab_leasing_the_same_item_meanwhile_gives_the_slot_back(project, trainer):
    """The trainer's other tab leases the item this claim picked, between the claim's look
    and its insert: the lease conflicts, the slot goes back, and the claim, starting over,
    resumes the lease the other tab holds (one lease, counted once)."""
    project.gold_rate = 0
    project.save(update_fields=["gold_rate"])
    first = make_item(project, prompt="first", priority=5)
    second = make_item(project, prompt="second")
    # The other tab: its lease of `first`, inserted in a transaction still open, so the
    # claim below does not see it when it picks `first`, then waits on it at the insert.
    db = connection.settings_dict
    other_tab = psycopg.connect(
        dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"]
    )
    code = uuid.uuid4()
    other_tab.execute(
        "INSERT INTO judging_assignment (code, item_id, trainer_id, status, lease_expires_at, "
        "display_order, skip_reason, created_at, updated_at) "
        "VALUES (%s, %s, %s, 'leased', now() + interval '30 minutes', '[]', '', now(), now())",
        [code, first.pk, trainer.pk],
    )
    got: list = []

    def claim():
        try:
            got.append(services.claim_next(trainer=trainer, project=project))
        finally:
            connections.close_all()

    thread = threading.Thread(target=claim)
    thread.start()
    _wait_until_blocked_on(other_tab, seconds=10)
    # The other tab's foreign-key check runs at COMMIT and takes a KEY SHARE lock on the
    # item, which the claim's FOR NO KEY UPDATE lets through (FOR UPDATE would deadlock).
    other_tab.commit()
    thread.join(timeout=30)
    other_tab.close()

    assert [(a.code, a.item_id) for a in got] == [(code, first.pk)]
    first.refresh_from_db()
    assert (first.n_leases, first.open_slots) == (0, first.queue.overlap), "slot given back"
    assert Assignment.objects.filter(trainer=trainer).count() == 1
    second.refresh_from_db()
    assert second.n_leases == 0


def _wait_until_blocked_on(conn, *, seconds: float) -> None:
    """Until some backend waits for a lock held by `conn`'s transaction."""
    deadline = time.monotonic() + seconds
    pid = conn.info.backend_pid
    with psycopg.connect(conn.info.dsn, autocommit=True) as probe:
        while time.monotonic() < deadline:
            row = probe.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                [pid],
            ).fetchone()
            if row[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the claim never waited on the other tab's lease")
