"""The labeling hot path's shortcuts keep the behaviour of the slow ways they replace: the
rubric kept in memory follows the lead's edits, the plain judgment form refuses what Django's
form refused, pipelined writes fail as one, and the per-request user read still ends the
sessions of users who may no longer log in."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from labeling.core.db import pipelined
from labeling.judging.models import Assignment, Judgment
from labeling.projects.models import Dimension
from labeling.projects.services import set_dimensions, set_flags
from tests.factories import PASSWORD, make_item

from .helpers import answer_for


def start(client, project) -> Assignment:
    response = client.post(reverse("work_next", args=[project.slug]))
    assert response.status_code == 302
    return Assignment.objects.get(code=response.url.rstrip("/").split("/")[-1])


@pytest.fixture
def labeling(client, project, trainer):
    make_item(project)
    make_item(project)
    client.login(username=trainer.username, password=PASSWORD)
    return client, start(client, project)


def test_the_screen_shows_a_flag_the_lead_adds_after_it_was_first_drawn(labeling, project):
    client, assignment = labeling
    page = reverse("assignment", args=[assignment.code])
    assert "Off topic" not in client.get(page).content.decode()  # the rubric is now cached
    set_flags(
        project=project,
        base_flag_keys=[f.key for f in project.flags.all()],
        custom_flags=[{"key": "off_topic", "label": "Off topic"}],
    )
    assert "Off topic" in client.get(page).content.decode()


def test_a_submit_is_validated_against_the_rubric_the_lead_just_changed(labeling, project):
    client, assignment = labeling
    body = answer_for(assignment, winner=assignment.display_order[0])
    client.get(reverse("assignment", args=[assignment.code]))  # cache the old rubric
    set_dimensions(
        project=project,
        dimensions=[
            {"key": "helpfulness", "name": "Helpfulness"},
            {"key": "clarity", "name": "Clarity"},
        ],
    )
    response = client.post(reverse("assignment_submit", args=[assignment.code]), body)
    assert response.status_code == 422
    assert "Score clarity for every response." in response.content.decode()
    assert not Judgment.objects.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"score": "9"}, "Select a valid choice. 9 is not one of the available choices."),
        ({"preference": "12345:2"}, "Select a valid choice. 12345:2 is not one of the"),
        ({"flag": "no_such_flag"}, "Select a valid choice. no_such_flag is not one of the"),
        ({"rationale": "x" * 5001}, "Ensure this value has at most 5000 characters (it has 5001)"),
        ({"elapsed_ms": "-5"}, "Ensure this value is greater than or equal to 0."),
        ({"elapsed_ms": "soon"}, "Enter a whole number."),
    ],
)
def test_a_submit_with_a_bad_field_is_refused_with_its_message_and_stores_nothing(
    labeling, change, message
):
    client, assignment = labeling
    first, second = assignment.display_order
    body = answer_for(assignment, winner=first)
    if "score" in change:
        body[f"score-{second}-helpfulness"] = change["score"]
    if "flag" in change:
        body[f"flags-{first}"] = [change["flag"]]
    for key in ("preference", "rationale", "elapsed_ms"):
        if key in change:
            body[key] = change[key]
    response = client.post(reverse("assignment_submit", args=[assignment.code]), body)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Judgment.objects.exists()
    assert Assignment.objects.get(pk=assignment.pk).status == Assignment.Status.LEASED


def test_a_failing_statement_in_a_pipeline_raises_djangos_error_and_undoes_the_others(project):
    dimension = Dimension.objects.filter(project=project).first()
    before = Dimension.objects.count()
    with (
        pytest.raises(IntegrityError),
        transaction.atomic(),
        pipelined(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE projects_dimension SET name = 'changed' WHERE id = %s", [dimension.pk]
        )
        cursor.execute(  # the same key twice in one project: the UNIQUE constraint
            "INSERT INTO projects_dimension (project_id, key, name, description, anchors, "
            "position, is_active) VALUES (%s, %s, 'Again', '', '{}', 9, true)",
            [project.pk, dimension.key],
        )
    dimension.refresh_from_db()
    assert dimension.name != "changed"
    assert Dimension.objects.count() == before


def test_a_trainer_made_inactive_is_logged_out_on_the_next_request(labeling, trainer):
    client, assignment = labeling
    page = reverse("assignment", args=[assignment.code])
    assert client.get(page).status_code == 200
    trainer.is_active = False
    trainer.save(update_fields=["is_active"])
    response = client.get(page)
    assert response.status_code == 302
    assert reverse("login") in response.url


def test_a_password_change_elsewhere_ends_the_session(labeling, trainer):
    client, assignment = labeling
    trainer.set_password("another long password 123")
    trainer.save(update_fields=["password"])
    response = client.get(reverse("assignment", args=[assignment.code]))
    assert response.status_code == 302
    assert reverse("login") in response.url
