"""Who may open which red-team page: trainers write and judge, leads run the campaign,
researchers and leads export; anyone else, and any preference project, gets 404."""

import pytest
from django.urls import reverse

from tests.factories import PASSWORD, make_user

from .conftest import add_response, make_attack

pytestmark = pytest.mark.django_db

TRAINER_PAGES = ("redteam_attack_new", "redteam_judge_next")
LEAD_PAGES = ("redteam_generate", "redteam_stats", "redteam_promote")
EXPORT_PAGES = ("redteam_exports",)
ALL_PAGES = ("redteam_attacks", *TRAINER_PAGES, *LEAD_PAGES, *EXPORT_PAGES)


def get(client, user, name, slug):
    client.login(username=user.username, password=PASSWORD)
    return client.get(reverse(name, args=[slug])).status_code


def test_a_non_member_gets_404_everywhere(client, red_team, trainer):
    stranger = make_user("stranger")
    attack = make_attack(red_team, trainer)
    for name in ALL_PAGES:
        assert get(client, stranger, name, red_team.slug) == 404, name
    url = reverse("redteam_attack", args=[red_team.slug, attack.pk])
    assert client.get(url).status_code == 404


def test_each_role_reaches_only_its_pages(client, red_team, trainer, lead, researcher):
    expected = {
        trainer: {"redteam_attacks", *TRAINER_PAGES},
        lead: {"redteam_attacks", *LEAD_PAGES, *EXPORT_PAGES},
        researcher: set(EXPORT_PAGES),
    }
    for user, allowed in expected.items():
        for name in ALL_PAGES:
            status = get(client, user, name, red_team.slug)
            assert (status in (200, 302)) == (name in allowed), (user.username, name, status)


def test_red_team_pages_do_not_exist_in_a_preference_project(client, project, lead, trainer):
    for user in (lead, trainer):
        for name in ALL_PAGES:
            assert get(client, user, name, project.slug) == 404, name


def test_another_trainer_cannot_open_judge_or_reveal_an_attack(
    client, red_team, trainer, other_trainer
):
    attack = make_attack(red_team, trainer)
    response = add_response(attack, "Sure.")
    client.login(username=other_trainer.username, password=PASSWORD)
    url = reverse("redteam_attack", args=[red_team.slug, attack.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {f"success_{response.pk}": "no"}).status_code == 404
    reveal = reverse("redteam_reveal", args=[red_team.slug, attack.pk, response.pk])
    assert client.post(reveal).status_code == 404


def test_a_trainer_accepts_the_content_notice_before_the_first_attack(client, red_team, trainer):
    red_team.memberships.filter(user=trainer).update(notice_accepted_at=None)
    client.login(username=trainer.username, password=PASSWORD)
    new = reverse("redteam_attack_new", args=[red_team.slug])
    notice = reverse("redteam_notice", args=[red_team.slug])
    assert client.get(new)["Location"] == notice
    assert client.post(notice, {"adult": "yes"}).status_code == 400
    assert client.post(notice, {"adult": "yes", "accept": "yes"})["Location"] == new
    assert client.get(new).status_code == 200


def test_a_reveal_is_logged(client, red_team, trainer):
    from labeling.core.models import AuditEvent

    attack = make_attack(red_team, trainer)
    response = add_response(attack, "Sure.")
    client.login(username=trainer.username, password=PASSWORD)
    reveal = reverse("redteam_reveal", args=[red_team.slug, attack.pk, response.pk])
    assert client.post(reveal).status_code == 204
    event = AuditEvent.objects.get(action="reveal")
    assert event.actor == trainer and event.details == {"candidate": response.pk}


def test_a_trainers_home_page_leads_to_the_red_team_not_to_labeling(client, red_team, trainer):
    client.force_login(trainer)
    page = client.get(reverse("home")).content.decode()
    assert reverse("redteam_attacks", args=[red_team.slug]) in page
    assert reverse("work_next", args=[red_team.slug]) not in page
