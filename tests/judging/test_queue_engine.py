"""The assignment engine: overlap, leases, order, pause, caps, restriction, release."""

from datetime import timedelta

from django.utils import timezone

from labeling.judging import services
from labeling.judging.models import Assignment, Judgment, Queue
from labeling.projects.models import Membership
from tests.factories import make_item, make_user

JUDGE = services.JudgmentInput


def judge(trainer, assignment, **kw):
    answer = JUDGE(preferred_id=assignment.display_order[0], strength=1, **kw)
    return services.submit_judgment(trainer=trainer, assignment=assignment, answer=answer)


def trainers(project, n, prefix="t"):
    users = [make_user(f"{prefix}{i}") for i in range(n)]
    for u in users:
        Membership.objects.create(project=project, user=u, role="trainer")
    return users


def test_an_item_is_judged_by_k_distinct_trainers_and_no_more(project):
    queue = services.default_queue(project)
    services.set_queue_overlap(queue=queue, overlap=3)
    item = make_item(project)
    crew = trainers(project, 5)
    for t in crew[:3]:
        judge(t, services.claim_next(trainer=t, project=project))
    assert services.claim_next(trainer=crew[3], project=project) is None
    item.refresh_from_db()
    assert (item.n_judgments, item.n_leases, item.open_slots) == (3, 0, 0)
    assert Judgment.objects.filter(assignment__item=item).count() == 3


def test_a_trainer_never_gets_an_item_twice(project, trainer):
    services.set_queue_overlap(queue=services.default_queue(project), overlap=3)
    make_item(project)
    judge(trainer, services.claim_next(trainer=trainer, project=project))
    assert services.claim_next(trainer=trainer, project=project) is None


def test_priority_then_fullest_first_then_oldest(project, trainer, other_trainer):
    services.set_queue_overlap(queue=services.default_queue(project), overlap=2)
    old = make_item(project, prompt="old")
    half_done = make_item(project, prompt="half done")
    urgent = make_item(project, prompt="urgent", priority=5)
    judge(other_trainer, services.claim_next(trainer=other_trainer, project=project))  # urgent
    judge(other_trainer, services.claim_next(trainer=other_trainer, project=project))  # old
    order = []
    for _ in range(3):
        a = services.claim_next(trainer=trainer, project=project)
        order.append(a.item)
        judge(trainer, a)
    assert order == [urgent, old, half_done]


def test_items_closest_to_done_come_before_new_ones(project, trainer, other_trainer):
    services.set_queue_overlap(queue=services.default_queue(project), overlap=3)
    first = make_item(project)
    second = make_item(project)
    judge(other_trainer, services.claim_next(trainer=other_trainer, project=project))
    taken = services.claim_next(trainer=trainer, project=project)
    assert taken.item == first
    assert first.pk < second.pk


def test_higher_priority_queues_are_served_first(project, trainer):
    main = services.default_queue(project)
    urgent = Queue.objects.create(project=project, name="Red team batch 3", priority=10)
    make_item(project, prompt="main item", queue=main)
    hot = make_item(project, prompt="hot item", queue=urgent)
    assert services.claim_next(trainer=trainer, project=project).item == hot


def test_a_paused_queue_hands_out_nothing(project, trainer):
    queue = services.default_queue(project)
    make_item(project)
    queue.is_paused = True
    queue.save()
    assert services.claim_next(trainer=trainer, project=project) is None
    queue.is_paused = False
    queue.save()
    assert services.claim_next(trainer=trainer, project=project) is not None


def test_a_restricted_queue_serves_only_its_trainers(project, trainer, other_trainer):
    queue = Queue.objects.create(project=project, name="harmful, opted in", restricted=True)
    queue.trainers.add(trainer)
    make_item(project, queue=queue)
    assert services.claim_next(trainer=other_trainer, project=project) is None
    assert services.claim_next(trainer=trainer, project=project) is not None


def test_the_daily_cap_counts_in_the_project_time_zone(project, trainer):
    project.daily_cap = 2
    project.time_zone = "Pacific/Auckland"
    project.save()
    for _ in range(4):
        make_item(project)
    for _ in range(2):
        judge(trainer, services.claim_next(trainer=trainer, project=project))
    assert services.claim_next(trainer=trainer, project=project) is None
    assert "cap of 2" in services.why_no_work(trainer, project)
    # The day is Auckland's: a minute before its midnight still counts, a minute after not.
    midnight = services.day_start(project, timezone.now()) + timedelta(days=1)
    late = midnight - timedelta(minutes=1)
    assert services.claim_next(trainer=trainer, project=project, now=late) is None
    assert services.judged_today(trainer, project, late) == 2
    assert services.judged_today(trainer, project, midnight) == 0
    assert services.claim_next(trainer=trainer, project=project, now=midnight) is not None


def test_a_trainers_own_cap_overrides_the_projects(project, trainer):
    project.daily_cap = 10
    project.save()
    Membership.objects.filter(project=project, user=trainer).update(daily_cap=1)
    make_item(project)
    make_item(project)
    judge(trainer, services.claim_next(trainer=trainer, project=project))
    assert services.claim_next(trainer=trainer, project=project) is None


def test_a_lapsed_but_unswept_lease_is_resumed_by_its_trainer(project, trainer):
    make_item(project)
    a = services.claim_next(trainer=trainer, project=project)
    Assignment.objects.filter(pk=a.pk).update(lease_expires_at=timezone.now() - timedelta(1))
    again = services.claim_next(trainer=trainer, project=project)
    assert again == a
    assert again.lease_expires_at > timezone.now()


def test_a_late_submit_counts_when_the_item_still_has_room(project, trainer):
    item = make_item(project)
    a = services.claim_next(trainer=trainer, project=project)
    Assignment.objects.filter(pk=a.pk).update(lease_expires_at=timezone.now() - timedelta(1))
    services.expire_leases()
    assert judge(trainer, a).counts is True
    item.refresh_from_db()
    assert (item.n_judgments, item.n_leases, item.open_slots) == (1, 0, 0)


def test_a_lead_releases_a_trainers_leases(project, trainer, other_trainer):
    make_item(project)
    a = services.claim_next(trainer=trainer, project=project)
    assert services.release_leases(project=project, trainer=trainer) == 1
    a.refresh_from_db()
    assert a.status == Assignment.Status.RELEASED
    assert services.claim_next(trainer=other_trainer, project=project).item == a.item


def test_skipping_frees_the_slot_for_someone_else(project, trainer, other_trainer):
    item = make_item(project)
    a = services.claim_next(trainer=trainer, project=project)
    services.skip_assignment(trainer=trainer, assignment=a, reason="other")
    item.refresh_from_db()
    assert item.open_slots == 1
    assert services.claim_next(trainer=other_trainer, project=project).item == item


def test_raising_overlap_reopens_finished_items(project, trainer, other_trainer):
    item = make_item(project)
    judge(trainer, services.claim_next(trainer=trainer, project=project))
    services.set_queue_overlap(queue=item.queue, overlap=2)
    assert services.claim_next(trainer=other_trainer, project=project).item == item
