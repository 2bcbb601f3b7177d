"""The lead's queue, trainer, settings and list pages through the test client."""

import pytest
from django.urls import reverse

from labeling.judging import services
from labeling.judging.models import Assignment, Queue
from labeling.projects.models import Membership
from tests.factories import PASSWORD, make_item, make_user


def login(client, user):
    client.login(username=user.username, password=PASSWORD)
    return client


def lead_urls(project, item, judgment_pk, queue, membership):
    s = project.slug
    return {
        "get": [
            reverse("lead_dashboard", args=[s]),
            reverse("lead_queues", args=[s]),
            reverse("lead_queue_settings", args=[s]),
            reverse("lead_items", args=[s]),
            reverse("lead_item", args=[s, item.pk]),
            reverse("lead_judgments", args=[s]),
            reverse("lead_judgment", args=[s, judgment_pk]),
        ],
        "post": [
            reverse("lead_requeue_outdated", args=[s]),
            reverse("lead_queue_new", args=[s]),
            reverse("lead_queue_update", args=[s, queue.pk]),
            reverse("lead_queue_pause", args=[s, queue.pk]),
            reverse("lead_trainer_update", args=[s, membership.pk]),
            reverse("lead_trainer_release", args=[s, membership.pk]),
            reverse("lead_item_gold", args=[s, item.pk]),
            reverse("lead_judgment_review", args=[s, judgment_pk]),
        ],
    }


def judge_one(project, trainer):
    a = services.claim_next(trainer=trainer, project=project)
    return services.submit_judgment(
        trainer=trainer,
        assignment=a,
        answer=services.JudgmentInput(preferred_id=a.display_order[0], strength=1),
    )


def test_every_lead_page_is_404_for_anyone_but_a_lead(client, project, trainer, researcher, lead):
    item = make_item(project)
    judgment = judge_one(project, trainer)
    queue = item.queue
    membership = Membership.objects.get(project=project, user=trainer)
    urls = lead_urls(project, item, judgment.pk, queue, membership)
    outsider = make_user("outsider")
    for user in (trainer, researcher, outsider):
        login(client, user)
        for url in urls["get"]:
            assert client.get(url).status_code == 404, (user, url)
        for url in urls["post"]:
            assert client.post(url, {}).status_code == 404, (user, url)
    queue.refresh_from_db()
    assert not queue.is_paused
    login(client, lead)
    for url in urls["get"]:
        assert client.get(url).status_code == 200, url


def test_a_lead_pauses_and_resumes_a_queue(client, project, lead, trainer):
    make_item(project)
    queue = services.default_queue(project)
    url = reverse("lead_queue_pause", args=[project.slug, queue.pk])
    login(client, lead).post(url)
    queue.refresh_from_db()
    assert queue.is_paused
    assert services.claim_next(trainer=trainer, project=project) is None
    client.post(url)
    queue.refresh_from_db()
    assert not queue.is_paused
    assert services.claim_next(trainer=trainer, project=project) is not None


def test_a_lead_sets_priority_overlap_and_restricts_a_queue(
    client, project, lead, trainer, other_trainer
):
    make_item(project)
    queue = services.default_queue(project)
    p = f"q{queue.pk}"
    response = login(client, lead).post(
        reverse("lead_queue_update", args=[project.slug, queue.pk]),
        {
            f"{p}-name": "Harmful, opted-in only",
            f"{p}-priority": "7",
            f"{p}-overlap": "3",
            f"{p}-restricted": "on",
            f"{p}-trainers": [str(other_trainer.pk)],
        },
    )
    assert response.status_code == 302
    queue.refresh_from_db()
    assert (queue.name, queue.priority, queue.overlap, queue.restricted) == (
        "Harmful, opted-in only",
        7,
        3,
        True,
    )
    assert list(queue.trainers.all()) == [other_trainer]
    assert queue.items.get().open_slots == 3
    assert services.claim_next(trainer=trainer, project=project) is None
    assert services.claim_next(trainer=other_trainer, project=project) is not None


def test_an_invalid_queue_edit_is_shown_again(client, project, lead):
    queue = services.default_queue(project)
    p = f"q{queue.pk}"
    response = login(client, lead).post(
        reverse("lead_queue_update", args=[project.slug, queue.pk]),
        {f"{p}-name": "Main", f"{p}-priority": "0", f"{p}-overlap": "0"},
    )
    assert response.status_code == 422
    assert "greater than or equal to 1" in response.content.decode()


def test_a_lead_adds_a_queue(client, project, lead):
    login(client, lead).post(
        reverse("lead_queue_new", args=[project.slug]),
        {"name": "Red team", "priority": "5", "overlap": "2"},
    )
    assert Queue.objects.filter(project=project, name="Red team", priority=5, overlap=2).exists()
    assert Queue.objects.filter(project=project, is_default=True).exists()
    response = client.post(
        reverse("lead_queue_new", args=[project.slug]),
        {"name": "Red team", "priority": "5", "overlap": "2"},
    )
    assert response.status_code == 422


def test_a_lead_sets_a_trainers_cap_and_releases_their_leases(client, project, lead, trainer):
    make_item(project)
    a = services.claim_next(trainer=trainer, project=project)
    membership = Membership.objects.get(project=project, user=trainer)
    login(client, lead)
    html = client.get(reverse("lead_queues", args=[project.slug])).content.decode()
    assert 'data-trainer="trainer"' in html
    client.post(
        reverse("lead_trainer_update", args=[project.slug, membership.pk]),
        {f"t{membership.pk}-daily_cap": "25"},
    )
    membership.refresh_from_db()
    assert membership.daily_cap == 25
    client.post(reverse("lead_trainer_release", args=[project.slug, membership.pk]))
    a.refresh_from_db()
    assert a.status == Assignment.Status.RELEASED
    a.item.refresh_from_db()
    assert (a.item.n_leases, a.item.open_slots) == (0, 1)


def test_a_lead_cannot_act_on_another_projects_queue(client, project, lead):
    from labeling.projects.services import create_project

    elsewhere = create_project(name="Elsewhere", created_by=lead)
    queue = services.default_queue(elsewhere)
    response = login(client, lead).post(reverse("lead_queue_pause", args=[project.slug, queue.pk]))
    assert response.status_code == 404


def test_the_queue_and_gold_settings_are_saved_and_checked(client, project, lead):
    url = reverse("lead_queue_settings", args=[project.slug])
    values = {
        "daily_cap": "120",
        "time_zone": "Europe/Berlin",
        "gold_rate": "0.05",
        "gold_window": "20",
        "gold_min_accuracy": "0.8",
        "qualification_size": "10",
        "qualification_pass": "8",
    }
    assert login(client, lead).post(url, values).status_code == 302
    project.refresh_from_db()
    assert (project.daily_cap, project.time_zone, project.gold_rate) == (120, "Europe/Berlin", 0.05)
    assert (project.qualification_size, project.qualification_pass) == (10, 8)
    for bad in ({"qualification_pass": "11"}, {"gold_rate": "1.5"}, {"time_zone": "Mars/Base"}):
        assert client.post(url, {**values, **bad}).status_code == 422, bad


@pytest.mark.parametrize("show", ["", "gold", "judged"])
def test_the_items_list_filters(client, project, lead, show):
    make_item(project, prompt="plain")
    gold = make_item(project, prompt="shiny")
    services.mark_gold(item=gold, answer={"preferred": None}, by=lead)
    html = (
        login(client, lead)
        .get(reverse("lead_items", args=[project.slug]), {"show": show})
        .content.decode()
    )
    assert ("shiny" in html) == (show in ("", "gold"))
    assert ("plain" in html) == (show == "")


def test_the_judgments_list_is_one_query_per_page_not_per_row(
    client, project, lead, trainer, django_assert_max_num_queries
):
    for i in range(5):
        make_item(project, prompt=f"p{i}")
        judge_one(project, trainer)
    login(client, lead)
    with django_assert_max_num_queries(8):
        html = client.get(reverse("lead_judgments", args=[project.slug])).content.decode()
    assert html.count('href="/p/helpful-assistant/judgments/') >= 5


def test_the_overview_links_to_the_lead_pages(client, project, lead, trainer):
    html = login(client, lead).get(reverse("project_overview", args=[project.slug])).content
    assert reverse("lead_dashboard", args=[project.slug]).encode() in html
    assert reverse("lead_queues", args=[project.slug]).encode() in html
    html = login(client, trainer).get(reverse("project_overview", args=[project.slug])).content
    assert reverse("lead_dashboard", args=[project.slug]).encode() not in html
