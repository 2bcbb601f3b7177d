"""Trainer wellbeing: opt-ins, exposure cap, content warnings, quarantine, first-item gate."""

from django.urls import reverse

from labeling.core.models import AuditEvent
from labeling.judging import services
from labeling.judging.models import Assignment, Item
from labeling.projects.models import Membership
from tests.factories import PASSWORD, make_item

JUDGE = services.JudgmentInput


def flag(trainer, project, key, *, rationale="harmful"):
    """The trainer judges their next item and flags its first shown response with `key`."""
    a = services.claim_next(trainer=trainer, project=project)
    bad = a.display_order[0]
    services.submit_judgment(
        trainer=trainer,
        assignment=a,
        answer=JUDGE(preferred_id=a.display_order[1], strength=2, flags={(bad, key)}),
    )
    return a, bad


def test_an_item_with_harm_a_trainer_did_not_opt_into_is_never_assigned(
    project, trainer, other_trainer
):
    services.set_queue_overlap(queue=services.default_queue(project), overlap=2)
    item = make_item(project)
    flag(other_trainer, project, "self_harm")
    item.refresh_from_db()
    assert item.harm_mask != 0
    assert services.claim_next(trainer=trainer, project=project) is None
    trainer.harm_opt_ins = ["self_harm"]
    trainer.save()
    assert services.claim_next(trainer=trainer, project=project).item == item


def test_opting_into_other_categories_is_not_enough(project, trainer, other_trainer):
    services.set_queue_overlap(queue=services.default_queue(project), overlap=2)
    make_item(project)
    flag(other_trainer, project, "violence")
    trainer.harm_opt_ins = ["hate", "sexual"]
    trainer.save()
    assert services.claim_next(trainer=trainer, project=project) is None


def test_quality_flags_do_not_restrict_anyone(project, trainer, other_trainer):
    services.set_queue_overlap(queue=services.default_queue(project), overlap=2)
    item = make_item(project)
    flag(other_trainer, project, "factual_error")
    assert services.claim_next(trainer=trainer, project=project).item == item


def test_the_daily_exposure_cap_leaves_only_harmless_work(project, trainer, other_trainer):
    services.set_queue_overlap(queue=services.default_queue(project), overlap=2)
    project.harm_exposure_cap = 1
    project.save()
    trainer.harm_opt_ins = ["violence"]
    trainer.save()
    harmful = [make_item(project, prompt=f"harm {n}") for n in range(2)]
    calm = make_item(project, prompt="calm")
    for _ in harmful:
        flag(other_trainer, project, "violence")
    Item.objects.filter(pk=calm.pk).update(priority=-1)
    first = services.claim_next(trainer=trainer, project=project)
    assert first.item in harmful
    services.submit_judgment(
        trainer=trainer,
        assignment=first,
        answer=JUDGE(preferred_id=first.display_order[0], strength=1),
    )
    second = services.claim_next(trainer=trainer, project=project)
    assert second.item.pk == calm.pk, "after the cap only harmless items"


def test_a_minors_flag_quarantines_the_prompt_everywhere(project, trainer, other_trainer, lead):
    services.set_queue_overlap(queue=services.default_queue(project), overlap=2)
    item = make_item(project)
    make_item(project, prompt="another")
    a, _ = flag(trainer, project, "sexual_minors", rationale="")
    item.refresh_from_db()
    assert item.prompt.quarantined_at is not None
    trainer_other_item = services.claim_next(trainer=other_trainer, project=project)
    assert trainer_other_item.item != item, "never shown to anyone again"
    other_trainer.harm_opt_ins = [
        "hate",
        "harassment",
        "self_harm",
        "sexual",
        "violence",
        "illicit",
    ]
    other_trainer.save()
    services.skip_assignment(trainer=other_trainer, assignment=trainer_other_item, reason="x")
    assert services.claim_next(trainer=other_trainer, project=project) is None
    event = AuditEvent.objects.get(action="quarantine")
    assert event.object_id == str(item.prompt_id)


def test_quarantine_ends_a_lease_someone_else_holds(project, trainer, other_trainer, client):
    services.set_queue_overlap(queue=services.default_queue(project), overlap=2)
    item = make_item(project)
    held = services.claim_next(trainer=other_trainer, project=project)
    flag(trainer, project, "sexual_minors")
    held.refresh_from_db()
    assert held.status == Assignment.Status.RELEASED
    client.login(username=other_trainer.username, password=PASSWORD)
    response = client.get(reverse("assignment", args=[held.code]))
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.n_leases == 0


def test_flagged_responses_are_hidden_behind_a_warning_naming_the_categories(
    project, trainer, other_trainer, client
):
    services.set_queue_overlap(queue=services.default_queue(project), overlap=2)
    make_item(project, responses=("calm words", "violent words"))
    _, bad = flag(other_trainer, project, "violence")
    trainer.harm_opt_ins = ["violence"]
    trainer.save()
    mine = services.claim_next(trainer=trainer, project=project)
    client.login(username=trainer.username, password=PASSWORD)
    html = client.get(reverse("assignment", args=[mine.code])).content.decode()
    assert html.count('<details class="content-warning"') == 1
    assert "Content warning:</strong> Violence" in html
    reveal = reverse("assignment_reveal", args=[mine.code, bad])
    assert reveal in html
    assert client.post(reveal).status_code == 204
    event = AuditEvent.objects.get(action="reveal")
    assert (event.actor, event.details["candidate"]) == (trainer, bad)


def test_nobody_else_can_record_a_reveal_on_my_assignment(project, trainer, other_trainer, client):
    make_item(project)
    mine = services.claim_next(trainer=trainer, project=project)
    client.login(username=other_trainer.username, password=PASSWORD)
    url = reverse("assignment_reveal", args=[mine.code, mine.display_order[0]])
    assert client.post(url).status_code == 404
    assert not AuditEvent.objects.filter(action="reveal").exists()


def test_the_first_item_waits_for_the_age_and_notice_confirmation(project, trainer, client):
    make_item(project)
    Membership.objects.filter(user=trainer).update(notice_accepted_at=None)
    client.login(username=trainer.username, password=PASSWORD)
    start = client.post(reverse("work_next", args=[project.slug]))
    assert start.url == reverse("project_notice", args=[project.slug])
    notice = reverse("project_notice", args=[project.slug])
    assert "may contain offensive" in client.get(notice).content.decode()
    assert client.post(notice, {"adult": "yes"}).status_code == 400
    assert client.post(notice, {"adult": "yes", "accept": "yes"}).status_code == 302
    membership = Membership.objects.get(user=trainer, project=project)
    assert membership.notice_accepted_at is not None
    assert client.post(reverse("work_next", args=[project.slug])).status_code == 302
    assert Assignment.objects.filter(trainer=trainer).exists()


def test_a_trainer_sets_their_opt_ins_in_their_profile(trainer, client):
    client.login(username=trainer.username, password=PASSWORD)
    page = client.get(reverse("wellbeing")).content.decode()
    assert "Self-harm" in page and "Sexual content involving minors:" not in page
    client.post(reverse("wellbeing"), {"opt_ins": ["violence", "hate"]})
    trainer.refresh_from_db()
    assert trainer.harm_opt_ins == ["hate", "violence"]
