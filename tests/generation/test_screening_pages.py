"""The lead's screening page and what the lead's item, list and review pages show."""

from django.urls import reverse

from labeling.generation import screening
from labeling.generation.models import CandidateScreening, ModerationEndpoint
from labeling.judging import services as judging
from labeling.projects.models import Candidate
from tests.factories import PASSWORD, make_item

from .moderation_server import ModerationServer


def login(client, user) -> None:
    client.login(username=user.username, password=PASSWORD)


def test_only_leads_reach_the_screening_page(client, project, trainer, researcher):
    url = reverse("generation_moderation", args=[project.slug])
    for user in (trainer, researcher):
        login(client, user)
        assert client.get(url).status_code == 404
        assert client.post(url, {"base_url": "http://127.0.0.1:9/v1"}).status_code == 404
    assert not ModerationEndpoint.objects.exists()


def test_a_lead_configures_screening_and_screens_existing_candidates(
    client, project, lead, django_capture_on_commit_callbacks
):
    make_item(project)
    login(client, lead)
    url = reverse("generation_moderation", args=[project.slug])
    html = client.get(url).content.decode()
    assert "None is configured: nothing is screened." in html
    restricted = judging.create_queue(project=project, name="Restricted")
    form = {
        "base_url": "http://127.0.0.1:9/v1",
        "model": "omni-moderation-latest",
        "api_key_env": "DATABASE_URL",
        "timeout_seconds": 10,
        "threshold": 0.7,
        "category_map": '{"hate": "hate", "sexual/minors": "sexual_minors"}',
        "screen_generated": "on",
        "route_to_queue": restricted.pk,
    }
    response = client.post(url, form)
    assert response.status_code == 400
    assert "MODEL_KEY_SOMETHING" in response.content.decode()
    response = client.post(url, {**form, "api_key_env": "MODEL_KEY_MOD"})
    assert response.status_code == 303
    saved = ModerationEndpoint.objects.get(project=project)
    assert (saved.threshold, saved.route_to_queue, saved.api_key_env) == (
        0.7,
        restricted,
        "MODEL_KEY_MOD",
    )
    assert saved.category_map == {"hate": "hate", "sexual/minors": "sexual_minors"}
    assert "not screened: 2" in client.get(url).content.decode()
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("generation_moderation_screen", args=[project.slug]))
    assert response.status_code == 303 and len(callbacks) == 1
    assert CandidateScreening.objects.filter(status="queued").count() == 2
    page = client.get(url, follow=True).content.decode()
    assert "queued or running: 2" in page


def test_the_lead_sees_screening_results_on_items_and_reviews(client, project, lead, trainer):
    with ModerationServer() as server:
        screening.save_moderation(
            moderation=ModerationEndpoint(project=project, base_url=server.url, model="omni")
        )
        item = make_item(project, responses=("plain", "[[hate]] hateful"))
        hateful = Candidate.objects.get(text="[[hate]] hateful")
        screening.request_screening(candidate_ids=[hateful.pk])
        screening.execute_screening(
            screening_id=CandidateScreening.objects.get().pk, max_attempts=1
        )
    trainer.harm_opt_ins = ["hate"]
    trainer.save()
    a = judging.claim_next(trainer=trainer, project=project)
    judgment = judging.submit_judgment(
        trainer=trainer,
        assignment=a,
        answer=judging.JudgmentInput(preferred_id=a.display_order[0], strength=1),
    )
    other = make_item(project, prompt="unscreened")
    login(client, lead)
    html = client.get(reverse("lead_item", args=[project.slug, item.pk])).content.decode()
    assert "screened: flagged hate 0.93" in html
    assert html.count("not screened") == 1
    listing = client.get(reverse("lead_items", args=[project.slug])).content.decode()
    assert listing.count('data-testid="screened-harmful"') == 1
    assert f"#{other.pk}" in listing
    review = client.get(reverse("lead_judgment", args=[project.slug, judgment.pk]))
    assert "screened: flagged hate 0.93" in review.content.decode()
