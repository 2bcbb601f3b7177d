"""A trainer sees and submits only their own work."""

from django.urls import reverse

from labeling.judging import services
from labeling.judging.models import Judgment
from labeling.projects.services import create_project
from tests.factories import PASSWORD, make_item, make_user

from .helpers import answer_for


def test_another_trainer_cannot_read_or_submit_my_assignment(
    client, project, trainer, other_trainer
):
    make_item(project)
    mine = services.claim_next(trainer=trainer, project=project)
    client.login(username=other_trainer.username, password=PASSWORD)
    assert client.get(reverse("assignment", args=[mine.code])).status_code == 404
    body = answer_for(mine, winner=mine.display_order[0])
    assert client.post(reverse("assignment_submit", args=[mine.code]), body).status_code == 404
    assert (
        client.post(reverse("assignment_skip", args=[mine.code]), {"reason": "other"}).status_code
        == 404
    )
    assert Judgment.objects.count() == 0


def test_a_lead_or_researcher_cannot_take_work_as_a_trainer(client, project, lead, researcher):
    make_item(project)
    for user in (lead, researcher):
        client.login(username=user.username, password=PASSWORD)
        assert client.post(reverse("work_next", args=[project.slug])).status_code == 404


def test_a_non_member_gets_404_for_the_project(client, project):
    make_item(project)
    outsider = make_user("outsider")
    other = create_project(name="Elsewhere", created_by=outsider)
    client.login(username=outsider.username, password=PASSWORD)
    assert client.post(reverse("work_next", args=[project.slug])).status_code == 404
    assert client.get(reverse("project_guidelines", args=[project.slug])).status_code == 404
    assert client.get(reverse("project_guidelines", args=[other.slug])).status_code == 200


def test_a_removed_trainer_loses_access_to_their_lease(client, project, trainer):
    make_item(project)
    mine = services.claim_next(trainer=trainer, project=project)
    project.memberships.filter(user=trainer).delete()
    client.login(username=trainer.username, password=PASSWORD)
    assert client.get(reverse("assignment", args=[mine.code])).status_code == 404
