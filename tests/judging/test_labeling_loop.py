"""The trainer's loop through the test client: claim, see, submit, skip."""

import pytest
from django.urls import reverse

from labeling.judging import services
from labeling.judging.models import Assignment, Judgment
from tests.factories import PASSWORD, make_item

from .helpers import answer_for


@pytest.fixture
def client_of(client):
    def login(user):
        client.login(username=user.username, password=PASSWORD)
        return client

    return login


def start(client, project) -> Assignment:
    response = client.post(reverse("work_next", args=[project.slug]))
    assert response.status_code == 302
    return Assignment.objects.get(code=response.url.rstrip("/").split("/")[-1])


def test_every_page_requires_login(client, project):
    item = make_item(project)
    for url in [
        reverse("home"),
        reverse("work_next", args=[project.slug]),
        reverse("project_guidelines", args=[project.slug]),
        reverse("assignment", args=["00000000-0000-0000-0000-000000000000"]),
    ]:
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))
    assert item.assignments.count() == 0


def test_home_shows_my_projects_and_what_waits(client_of, project, trainer):
    make_item(project)
    make_item(project)
    html = client_of(trainer).get(reverse("home")).content.decode()
    assert "Helpful assistant" in html
    assert 'data-testid="waiting">2<' in html


def test_start_leases_an_item_with_a_shuffled_order_recorded(client_of, project, trainer):
    item = make_item(project)
    client = client_of(trainer)
    assignment = start(client, project)
    assert assignment.item == item
    assert assignment.trainer == trainer
    assert assignment.status == Assignment.Status.LEASED
    assert sorted(assignment.display_order) == sorted(
        item.slots.values_list("candidate_id", flat=True)
    )
    html = client.get(reverse("assignment", args=[assignment.code])).content.decode()
    first, second = (item.candidates.get(pk=c) for c in assignment.display_order)
    assert html.index(first.text) < html.index(second.text)


def test_the_shown_order_varies_between_assignments(project, lead, trainer):
    from tests.factories import make_user

    orders = set()
    item = make_item(project)
    services.set_queue_overlap(queue=item.queue, overlap=40)
    for n in range(30):
        user = make_user(f"t{n}")
        project.memberships.create(user=user, role="trainer")
        orders.add(tuple(services.claim_next(trainer=user, project=project).display_order))
    assert len(orders) == 2, "30 shuffles of two candidates always show both orders"
    assert item.assignments.count() == 30


def test_reload_resumes_the_same_lease(client_of, project, trainer):
    make_item(project)
    make_item(project)
    client = client_of(trainer)
    assert start(client, project) == start(client, project)


def test_submit_stores_the_preference_against_candidates_not_positions(client_of, project, trainer):
    item = make_item(project)
    client = client_of(trainer)
    assignment = start(client, project)
    right = assignment.display_order[1]  # the response shown on the right wins
    response = client.post(
        reverse("assignment_submit", args=[assignment.code]),
        answer_for(assignment, winner=right, strength=3),
    )
    assert response.status_code == 303
    judgment = Judgment.objects.get()
    assert judgment.preferred_id == right
    assert judgment.strength == 3
    assert judgment.shown_order == assignment.display_order
    assert judgment.guideline_version == project.guidelines_version
    assert judgment.time_spent_ms == 4200
    assert judgment.scores.count() == 2 * 3
    assert set(judgment.scores.values_list("candidate_id", flat=True)) == set(
        item.slots.values_list("candidate_id", flat=True)
    )
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.SUBMITTED


def test_about_the_same_stores_no_preferred_candidate(client_of, project, trainer):
    make_item(project)
    client = client_of(trainer)
    assignment = start(client, project)
    client.post(
        reverse("assignment_submit", args=[assignment.code]),
        answer_for(assignment, winner=None, all_bad="on"),
    )
    judgment = Judgment.objects.get()
    assert (judgment.preferred_id, judgment.strength, judgment.all_bad) == (None, 0, True)


def test_a_double_submit_stores_one_judgment(client_of, project, trainer):
    make_item(project)
    make_item(project)
    client = client_of(trainer)
    assignment = start(client, project)
    body = answer_for(assignment, winner=assignment.display_order[0])
    url = reverse("assignment_submit", args=[assignment.code])
    first = client.post(url, body, HTTP_HX_REQUEST="true")
    second = client.post(url, body, HTTP_HX_REQUEST="true")
    assert first.status_code == second.status_code == 200
    assert Judgment.objects.count() == 1
    assert Assignment.objects.filter(trainer=trainer).count() == 2


def test_the_service_is_idempotent_too(project, trainer):
    make_item(project)
    assignment = services.claim_next(trainer=trainer, project=project)
    answer = services.JudgmentInput(preferred_id=assignment.display_order[0], strength=1)
    one = services.submit_judgment(trainer=trainer, assignment=assignment, answer=answer)
    two = services.submit_judgment(trainer=trainer, assignment=assignment, answer=answer)
    assert one.pk == two.pk
    assert Judgment.objects.count() == 1


def test_htmx_submit_answers_with_the_next_item_in_place(client_of, project, trainer):
    make_item(project, prompt="First question?")
    make_item(project, prompt="Second question?")
    client = client_of(trainer)
    assignment = start(client, project)
    response = client.post(
        reverse("assignment_submit", args=[assignment.code]),
        answer_for(assignment, winner=assignment.display_order[0]),
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith('<div id="workspace"')
    assert "Second question?" in html
    assert 'data-testid="today">1<' in html
    following = Assignment.objects.get(status="leased")
    assert response["HX-Push-Url"] == reverse("assignment", args=[following.code])


def test_missing_scores_and_preference_are_errors_and_store_nothing(client_of, project, trainer):
    make_item(project)
    client = client_of(trainer)
    assignment = start(client, project)
    response = client.post(reverse("assignment_submit", args=[assignment.code]), {})
    assert response.status_code == 422
    html = response.content.decode()
    assert "Score helpfulness for every response." in html
    assert "Choose which response is better" in html
    assert Judgment.objects.count() == 0


def test_scores_may_be_optional(client_of, project, trainer):
    project.scores_required = False
    project.save()
    make_item(project)
    client = client_of(trainer)
    assignment = start(client, project)
    client.post(
        reverse("assignment_submit", args=[assignment.code]),
        {"preference": f"{assignment.display_order[0]}:1"},
    )
    assert Judgment.objects.get().scores.count() == 0


def test_a_candidate_from_another_item_is_rejected(client_of, project, trainer):
    first = make_item(project)
    second = make_item(project)
    client = client_of(trainer)
    assignment = start(client, project)
    other = second if assignment.item == first else first
    body = answer_for(assignment, winner=assignment.display_order[0])
    body["preference"] = f"{other.slots.first().candidate_id}:2"
    response = client.post(reverse("assignment_submit", args=[assignment.code]), body)
    assert response.status_code == 422
    assert Judgment.objects.count() == 0


def test_a_harm_flag_requires_a_rationale(client_of, project, trainer):
    make_item(project)
    client = client_of(trainer)
    assignment = start(client, project)
    bad = assignment.display_order[1]
    body = answer_for(assignment, winner=assignment.display_order[0], flags={bad: ["illicit"]})
    url = reverse("assignment_submit", args=[assignment.code])
    response = client.post(url, body)
    assert response.status_code == 422
    assert "Write a short rationale" in response.content.decode()
    body["rationale"] = "Gives break-in steps."
    assert client.post(url, body).status_code == 303
    judgment = Judgment.objects.get()
    assert list(judgment.flags.values_list("candidate_id", "key")) == [(bad, "illicit")]
    assert judgment.rationale == "Gives break-in steps."


def test_an_unknown_flag_is_rejected(client_of, project, trainer):
    make_item(project)
    client = client_of(trainer)
    assignment = start(client, project)
    body = answer_for(
        assignment,
        winner=assignment.display_order[0],
        flags={assignment.display_order[0]: ["nope"]},
    )
    assert (
        client.post(reverse("assignment_submit", args=[assignment.code]), body).status_code == 422
    )


def test_a_ranking_with_ties_is_stored_as_tie_groups(client, ranking_project, trainer):
    make_item(ranking_project, responses=("w", "x", "y", "z"))
    client.login(username=trainer.username, password=PASSWORD)
    assignment = start(client, ranking_project)
    a, b, c, d = assignment.display_order
    body = answer_for(assignment, ranks={a: 2, b: 1, c: 2, d: 4})
    assert (
        client.post(reverse("assignment_submit", args=[assignment.code]), body).status_code == 303
    )
    judgment = Judgment.objects.get()
    assert judgment.ranking == [[b], sorted([a, c]), [d]]
    assert judgment.preferred_id is None and judgment.strength is None


def test_a_ranking_must_rank_every_response(client, ranking_project, trainer):
    make_item(ranking_project, responses=("w", "x", "y"))
    client.login(username=trainer.username, password=PASSWORD)
    assignment = start(client, ranking_project)
    a, b, _c = assignment.display_order
    body = answer_for(assignment, ranks={a: 1, b: 2})
    response = client.post(reverse("assignment_submit", args=[assignment.code]), body)
    assert response.status_code == 422
    assert Judgment.objects.count() == 0


def test_skip_records_the_reason_and_moves_on(client_of, project, trainer):
    first = make_item(project, priority=5)
    make_item(project)
    client = client_of(trainer)
    assignment = start(client, project)
    assert assignment.item == first
    response = client.post(
        reverse("assignment_skip", args=[assignment.code]), {"reason": "broken", "note": "empty"}
    )
    assert response.status_code == 303
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.SKIPPED
    assert assignment.skip_reason == "broken: empty"
    assert Assignment.objects.get(status="leased").item != first


def test_a_skipped_item_is_not_offered_again(project, trainer):
    make_item(project)
    a = services.claim_next(trainer=trainer, project=project)
    services.skip_assignment(trainer=trainer, assignment=a, reason="other")
    assert services.claim_next(trainer=trainer, project=project) is None


def test_an_item_held_by_one_trainer_is_not_handed_to_another(project, trainer, other_trainer):
    make_item(project)
    assert services.claim_next(trainer=trainer, project=project) is not None
    assert services.claim_next(trainer=other_trainer, project=project) is None


def test_an_expired_lease_returns_the_item_to_the_pool(project, trainer, other_trainer):
    make_item(project)
    held = services.claim_next(trainer=trainer, project=project)
    Assignment.objects.filter(pk=held.pk).update(lease_expires_at=held.created_at)
    assert services.claim_next(trainer=other_trainer, project=project) is None, "not swept yet"
    assert services.expire_leases() == 1
    taken = services.claim_next(trainer=other_trainer, project=project)
    assert taken is not None and taken.item == held.item
    services.submit_judgment(
        trainer=other_trainer,
        assignment=taken,
        answer=services.JudgmentInput(preferred_id=taken.display_order[0], strength=1),
    )
    late = services.submit_judgment(
        trainer=trainer,
        assignment=held,
        answer=services.JudgmentInput(preferred_id=held.display_order[1], strength=2),
    )
    assert late.counts is False, "kept as a late judgment, not counted"
    assert Judgment.objects.count() == 2
    item = held.item
    item.refresh_from_db()
    assert (item.n_judgments, item.n_leases, item.open_slots) == (1, 0, 0)


def test_a_late_submit_on_a_completed_item_is_a_conflict_and_is_kept(
    client_of, project, trainer, other_trainer
):
    make_item(project)
    client = client_of(trainer)
    held = start(client, project)
    Assignment.objects.filter(pk=held.pk).update(lease_expires_at=held.created_at)
    services.expire_leases()
    taken = services.claim_next(trainer=other_trainer, project=project)
    services.submit_judgment(
        trainer=other_trainer,
        assignment=taken,
        answer=services.JudgmentInput(preferred_id=taken.display_order[0], strength=1),
    )
    response = client.post(
        reverse("assignment_submit", args=[held.code]),
        answer_for(held, winner=held.display_order[1]),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 409
    assert "kept as a late judgment" in response.content.decode()
    late = Judgment.objects.get(assignment=held)
    assert late.counts is False and late.preferred_id == held.display_order[1]


def test_done_page_when_nothing_is_left(client_of, project, trainer):
    response = client_of(trainer).post(reverse("work_next", args=[project.slug]))
    assert response.status_code == 200
    assert "Nothing left for you right now" in response.content.decode()


def test_guidelines_are_on_the_labeling_page_and_their_own_page(client_of, project, trainer):
    make_item(project)
    client = client_of(trainer)
    assignment = start(client, project)
    html = client.get(reverse("assignment", args=[assignment.code])).content.decode()
    assert "<h1>Guidelines</h1>" in html
    guide = client.get(reverse("project_guidelines", args=[project.slug])).content.decode()
    assert "Be fair." in guide


def test_shortcuts_are_shown_on_the_page(client_of, project, trainer):
    make_item(project)
    client = client_of(trainer)
    assignment = start(client, project)
    html = client.get(reverse("assignment", args=[assignment.code])).content.decode()
    assert 'data-strength-key="q"' in html and 'data-strength-key="u"' in html
    assert 'data-flag-key="a"' in html
    assert "Keyboard shortcuts" in html


def test_removing_a_scored_dimension_keeps_its_scores(client_of, project, trainer):
    from labeling.judging.models import Score
    from labeling.projects.services import set_dimensions

    make_item(project)
    make_item(project)
    client = client_of(trainer)
    assignment = start(client, project)
    client.post(
        reverse("assignment_submit", args=[assignment.code]),
        answer_for(assignment, winner=assignment.display_order[0]),
    )
    kept = [{"key": "helpfulness", "name": "Helpfulness"}]
    set_dimensions(project=project, dimensions=kept)
    assert Score.objects.count() == 6
    assert [d.key for d in project.active_dimensions()] == ["helpfulness"]
    following = Assignment.objects.get(status="leased")
    html = client.get(reverse("assignment", args=[following.code])).content.decode()
    assert "Truthfulness" not in html
