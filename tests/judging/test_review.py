"""Review: a lead sees a judgment as the trainer saw it, accepts or returns it; history stays."""

from string import ascii_uppercase

import pytest
from django.urls import reverse

from labeling.judging import services
from labeling.judging.models import Assignment, Judgment, JudgmentRevision
from tests.factories import PASSWORD, make_item

from .helpers import answer_for


def login(client, user):
    client.login(username=user.username, password=PASSWORD)
    return client


@pytest.fixture
def judged(client, project, trainer):
    """One item judged by the trainer through the page: the right-hand response, 'better'."""
    item = make_item(project, responses=("Paris is the capital.", "Lyon is the capital."))
    login(client, trainer)
    response = client.post(reverse("work_next", args=[project.slug]))
    assignment = Assignment.objects.get(code=response.url.rstrip("/").split("/")[-1])
    shown_second = assignment.display_order[1]
    client.post(
        reverse("assignment_submit", args=[assignment.code]),
        answer_for(assignment, winner=shown_second, strength=2, rationale="clearer"),
    )
    judgment = Judgment.objects.get(assignment=assignment)
    client.logout()
    return item, judgment


def test_the_review_page_reconstructs_the_shown_order(client, project, lead, judged):
    item, judgment = judged
    html = (
        login(client, lead)
        .get(reverse("lead_judgment", args=[project.slug, judgment.pk]))
        .content.decode()
    )
    texts = dict(item.candidates.values_list("pk", "text"))
    first, second = (texts[c] for c in judgment.shown_order)
    assert html.index(first) < html.index(second)  # left to right as the trainer saw it
    # The answer in the trainer's own letters: they picked the second shown, B.
    assert 'data-testid="answer">B better<' in html
    for i, cid in enumerate(judgment.shown_order):
        assert f'data-candidate="{cid}"' in html
        assert f'<span class="letter">{ascii_uppercase[i]}</span>' in html
    assert "clearer" in html


def test_return_then_the_trainer_sees_the_comment_and_revises_with_history(
    client, project, lead, trainer, judged
):
    _, judgment = judged
    login(client, lead)
    response = client.post(
        reverse("lead_judgment_review", args=[project.slug, judgment.pk]),
        {"decision": "return", "comment": "Lyon is not the capital: look again."},
    )
    assert response.status_code == 302
    judgment.refresh_from_db()
    assert judgment.review_status == "returned"
    assert judgment.assignment.status == Assignment.Status.RETURNED

    login(client, trainer)
    response = client.post(reverse("work_next", args=[project.slug]))
    assert response.url == reverse("assignment", args=[judgment.assignment.code])
    html = client.get(response.url).content.decode()
    assert 'data-testid="review-comment"' in html
    assert "Lyon is not the capital: look again." in html
    assignment = Assignment.objects.get(pk=judgment.assignment_id)
    paris = assignment.item.slots.get(slot=0).candidate_id
    client.post(
        reverse("assignment_submit", args=[assignment.code]),
        answer_for(assignment, winner=paris, strength=3, rationale="Paris is right"),
    )

    judgment.refresh_from_db()
    assert judgment.preferred_id == paris and judgment.strength == 3
    assert judgment.review_status == ""
    (revision,) = JudgmentRevision.objects.filter(judgment=judgment)
    assert revision.snapshot["strength"] == 2
    assert revision.snapshot["rationale"] == "clearer"
    assert revision.reason == "Lyon is not the capital: look again."
    assert Judgment.objects.filter(assignment=assignment).count() == 1

    login(client, lead)
    html = client.get(reverse("lead_judgment", args=[project.slug, judgment.pk])).content.decode()
    history = html[html.index('data-testid="history"') :]
    assert "B better" in history  # the first answer, in the shown letters
    assert "Lyon is not the capital: look again." in history
    assert "much better" in history and "current" in history


def test_accept_marks_the_judgment(client, project, lead, judged):
    _, judgment = judged
    login(client, lead).post(
        reverse("lead_judgment_review", args=[project.slug, judgment.pk]),
        {"decision": "accept", "comment": ""},
    )
    judgment.refresh_from_db()
    assert judgment.review_status == "accepted" and judgment.reviewed_by == lead
    assert judgment.assignment.status == Assignment.Status.SUBMITTED


def test_returning_needs_a_comment(client, project, lead, judged):
    _, judgment = judged
    response = login(client, lead).post(
        reverse("lead_judgment_review", args=[project.slug, judgment.pk]),
        {"decision": "return", "comment": " "},
    )
    assert response.status_code == 422
    judgment.refresh_from_db()
    assert judgment.review_status == ""


def test_the_item_page_shows_all_judgments_side_by_side(
    client, project, lead, trainer, other_trainer
):
    services.set_queue_overlap(queue=services.default_queue(project), overlap=2)
    item = make_item(project, responses=("Good.", "Bad."))
    good = item.slots.get(slot=0).candidate_id
    bad = item.slots.get(slot=1).candidate_id
    for t, pick in ((trainer, good), (other_trainer, bad)):
        a = services.claim_next(trainer=t, project=project)
        services.submit_judgment(
            trainer=t,
            assignment=a,
            answer=services.JudgmentInput(preferred_id=pick, strength=1, rationale=f"by {t}"),
        )
    html = (
        login(client, lead).get(reverse("lead_item", args=[project.slug, item.pk])).content.decode()
    )
    grid = html[html.index('data-testid="judgments-grid"') :]
    assert "trainer" in grid and "other_trainer" in grid
    # Letters on this page are the item's own slots: A = "Good.", B = "Bad."
    assert grid.count('data-testid="answer"><strong>A slightly better') == 1
    assert grid.count('data-testid="answer"><strong>B slightly better') == 1
    assert "1 of 2 agree" in html
    assert "by trainer" in grid and "by other_trainer" in grid


def test_requeue_outdated_returns_old_judgments(client, project, lead, judged):
    _, judgment = judged
    project.guidelines_version += 1
    project.save()
    login(client, lead)
    board = client.get(reverse("lead_dashboard", args=[project.slug])).content.decode()
    assert "Re-queue them" in board
    client.post(reverse("lead_requeue_outdated", args=[project.slug]))
    judgment.refresh_from_db()
    assert judgment.review_status == "returned"
    assert "version 2" in judgment.review_comment


def test_other_projects_judgments_are_404(client, project, lead, judged, other_trainer):
    from labeling.projects.services import create_project

    _, judgment = judged
    elsewhere = create_project(name="Elsewhere", created_by=lead)
    login(client, lead)
    url = reverse("lead_judgment", args=[elsewhere.slug, judgment.pk])
    assert client.get(url).status_code == 404
    login(client, other_trainer)
    assert client.get(reverse("lead_judgment", args=[project.slug, judgment.pk])).status_code == 404


def test_a_ranking_is_shown_in_the_trainers_letters(client, ranking_project, lead, trainer):
    item = make_item(ranking_project, responses=("one", "two", "three"))
    a = services.claim_next(trainer=trainer, project=ranking_project)
    first, second, third = a.display_order
    judgment = services.submit_judgment(
        trainer=trainer,
        assignment=a,
        answer=services.JudgmentInput(ranking=[[third], [first, second]]),
    )
    html = (
        login(client, lead)
        .get(reverse("lead_judgment", args=[ranking_project.slug, judgment.pk]))
        .content.decode()
    )
    assert 'data-testid="answer">C &gt; A = B<' in html
    item_html = client.get(reverse("lead_item", args=[ranking_project.slug, item.pk])).content
    assert b"Best response" in item_html  # the gold form asks for the best, not a pair
