"""Screening candidates with a moderation endpoint (our OpenAI-moderation-shaped stub)."""

import pytest
from django.urls import reverse

from labeling.core.models import AuditEvent
from labeling.generation import screening, services
from labeling.generation.models import CandidateScreening, ModerationEndpoint
from labeling.judging import services as judging
from labeling.judging.models import Item
from labeling.projects.models import Candidate, Prompt
from labeling.projects.taxonomy import HARM_BITS
from tests.factories import PASSWORD, make_item

from .conftest import make_endpoint
from .moderation_server import ModerationServer

Status = CandidateScreening.Status


@pytest.fixture
def moderation_server():
    with ModerationServer(hang=3.0) as server:
        yield server


def configure(project, server, **fields) -> ModerationEndpoint:
    defaults = {"base_url": server.url, "model": "omni", "timeout_seconds": 5}
    defaults.update(fields)
    return screening.save_moderation(moderation=ModerationEndpoint(project=project, **defaults))


def screen_now(candidate: Candidate, *, max_attempts: int = 3):
    """Queue the candidate's screening and run it once in this process."""
    screening.request_screening(candidate_ids=[candidate.pk])
    row = CandidateScreening.objects.get(candidate=candidate)
    return row, screening.execute_screening(screening_id=row.pk, max_attempts=max_attempts)


def test_a_harmful_candidate_gets_scores_categories_and_the_harm_bits(
    project, trainer, moderation_server
):
    configure(project, moderation_server)
    item = make_item(project, responses=("kind words", "[[hate]] hateful words"))
    calm, hateful = item.candidates.order_by("pk")
    row, outcome = screen_now(hateful)
    assert outcome.kind == "done"
    row.refresh_from_db()
    assert row.status == Status.DONE and row.flagged and row.server_flagged
    assert row.categories == ["hate"]
    assert row.scores["hate"] == 0.93 and row.scores["violence"] == 0.01
    assert row.model == "omni-served" and row.threshold == 0.5 and row.screened_at
    assert row.summary == "screened: flagged hate 0.93"
    hateful.refresh_from_db()
    item.refresh_from_db()
    assert hateful.harm_mask == HARM_BITS["hate"] == item.harm_mask
    # The same bits a trainer's flag sets: nobody who did not opt into hate gets the item.
    assert judging.claim_next(trainer=trainer, project=project) is None
    trainer.harm_opt_ins = ["hate"]
    trainer.save()
    assert judging.claim_next(trainer=trainer, project=project).item == item
    _, outcome = screen_now(calm)
    calm.refresh_from_db()
    assert outcome.kind == "done" and calm.harm_mask == 0
    assert CandidateScreening.objects.get(candidate=calm).summary == "screened: clean"


def test_the_trainer_sees_a_screened_response_behind_a_content_warning(
    project, trainer, client, moderation_server
):
    configure(project, moderation_server)
    item = make_item(project, responses=("calm", "[[violence]] violent words"))
    screen_now(item.candidates.get(text__startswith="[[violence]]"))
    trainer.harm_opt_ins = ["violence"]
    trainer.save()
    mine = judging.claim_next(trainer=trainer, project=project)
    client.login(username=trainer.username, password=PASSWORD)
    html = client.get(reverse("assignment", args=[mine.code])).content.decode()
    assert html.count('<details class="content-warning"') == 1
    assert "Content warning:</strong> Violence" in html


def test_the_threshold_and_the_mapping_decide_what_counts(project, moderation_server):
    configure(project, moderation_server, threshold=0.8, category_map={"hate": "harassment"})
    item = make_item(project, responses=("[[violence]] 0.71 only", "[[hate]] mapped elsewhere"))
    violent, hateful = item.candidates.order_by("pk")
    screen_now(violent)
    screen_now(hateful)
    assert CandidateScreening.objects.get(candidate=violent).flagged is False
    hateful.refresh_from_db()
    assert CandidateScreening.objects.get(candidate=hateful).categories == ["harassment"]
    assert hateful.harm_mask == HARM_BITS["harassment"]


def test_sexual_minors_from_screening_quarantines_the_prompt(project, moderation_server):
    configure(project, moderation_server)
    item = make_item(project, responses=("fine", "[[minors]] never shown"))
    row, _ = screen_now(item.candidates.get(text__startswith="[[minors]]"))
    row.refresh_from_db()
    assert row.categories == ["sexual", "sexual_minors"]
    prompt = Prompt.objects.get(pk=item.prompt_id)
    assert prompt.quarantined_at is not None
    event = AuditEvent.objects.get(action="quarantine")
    assert event.details["reason"] == "screened by the moderation endpoint"
    item.refresh_from_db()
    assert item.harm_mask & HARM_BITS["sexual_minors"]


def test_screened_harmful_items_move_to_the_chosen_queue(project, moderation_server):
    restricted = judging.create_queue(project=project, name="Restricted", overlap=3)
    restricted.restricted = True
    restricted.save()
    configure(project, moderation_server, route_to_queue=restricted)
    clean_item = make_item(project, responses=("a", "b"))
    harmful_item = make_item(project, responses=("c", "[[hate]] d"))
    for candidate in Candidate.objects.filter(prompt__project=project):
        screen_now(candidate)
    clean_item.refresh_from_db()
    harmful_item.refresh_from_db()
    assert clean_item.queue.is_default
    assert harmful_item.queue == restricted and harmful_item.open_slots == 3


def test_items_built_after_screening_carry_its_bits_and_route(project, lead, fault_server):
    with ModerationServer() as server:
        restricted = judging.create_queue(project=project, name="Restricted")
        configure(project, server, route_to_queue=restricted)
        prompt = Prompt.objects.create(
            project=project, messages=[{"role": "user", "content": "[[hate]] say it"}]
        )
        endpoint = make_endpoint(project, base_url=fault_server.url, model="ok")
        job = services.start_generation_job(
            project=project, by=lead, endpoints=[endpoint], samples_per_endpoint=2, enqueue=False
        )
        first, second = job.units.order_by("pk")
        # The first candidate is generated and screened before the second one exists, so
        # its item is built after the screening recorded its verdict.
        services.execute_unit(unit_id=first.pk, max_attempts=3)
        row = CandidateScreening.objects.get(candidate__prompt=prompt)
        screening.execute_screening(screening_id=row.pk, max_attempts=3)
        assert not Item.objects.filter(prompt=prompt).exists()
        services.execute_unit(unit_id=second.pk, max_attempts=3)
    item = Item.objects.get(prompt=prompt)
    assert item.harm_mask == HARM_BITS["hate"]
    assert item.queue == restricted
    assert CandidateScreening.objects.filter(candidate__prompt=prompt).count() == 2


def test_without_a_moderation_endpoint_nothing_is_screened(project, lead, fault_server):
    Prompt.objects.create(project=project, messages=[{"role": "user", "content": "[[hate]]"}])
    endpoint = make_endpoint(project, base_url=fault_server.url, model="ok")
    job = services.start_generation_job(
        project=project, by=lead, endpoints=[endpoint], samples_per_endpoint=2, enqueue=False
    )
    services.run_job_inline(job=job)
    assert Candidate.objects.filter(prompt__project=project).count() == 2
    assert not CandidateScreening.objects.exists()
    assert screening.screen_existing(project=project) == 0


@pytest.mark.parametrize(
    ("model", "status", "retry_after"),
    [("server-error", 500, None), ("rate-limited", 429, 1.0), ("hang", None, None)],
)
def test_500_429_and_timeouts_are_retried(project, moderation_server, model, status, retry_after):
    configure(project, moderation_server, model=model, timeout_seconds=1)
    item = make_item(project, responses=("[[hate]] x", "y"))
    candidate = item.candidates.get(text="[[hate]] x")
    row, outcome = screen_now(candidate)
    assert outcome.kind == "retry" and outcome.retry_after == retry_after
    row.refresh_from_db()
    assert row.status == Status.QUEUED and row.attempts == 1 and row.error_status == status
    assert ("timed out" in row.error) if model == "hang" else (f"HTTP {status}" in row.error)
    outcome = screening.execute_screening(screening_id=row.pk, max_attempts=3)
    row.refresh_from_db()
    assert outcome.kind == "done" and row.status == Status.DONE and row.attempts == 2
    assert row.flagged and row.error == ""


def test_a_401_fails_at_once_and_the_last_attempt_gives_up(project, moderation_server):
    moderation = configure(project, moderation_server, model="unauthorized")
    item = make_item(project)
    first, second = item.candidates.order_by("pk")
    row, outcome = screen_now(first)
    row.refresh_from_db()
    assert outcome.kind == "failed" and (row.status, row.error_status) == (Status.FAILED, 401)
    assert len(moderation_server.requests_for("unauthorized")) == 1
    moderation.model = "server-error"
    moderation.save()
    row, outcome = screen_now(second, max_attempts=1)
    row.refresh_from_db()
    assert outcome.kind == "failed" and row.status == Status.FAILED
    assert Candidate.objects.get(pk=second.pk).harm_mask == 0


def test_screening_is_idempotent(project, moderation_server):
    configure(project, moderation_server)
    item = make_item(project, responses=("[[hate]] a", "b"))
    candidate = item.candidates.get(text="[[hate]] a")
    row, _ = screen_now(candidate)
    assert screening.request_screening(candidate_ids=[candidate.pk]) == 0
    assert screening.execute_screening(screening_id=row.pk, max_attempts=3).kind == "skipped"
    assert CandidateScreening.objects.filter(candidate=candidate).count() == 1
    assert len(moderation_server.requests_for("omni")) == 1


def test_screen_existing_queues_imported_candidates_once(
    project, moderation_server, django_capture_on_commit_callbacks
):
    configure(project, moderation_server)
    make_item(project)
    make_item(project, prompt="another")
    with django_capture_on_commit_callbacks() as callbacks:
        assert screening.screen_existing(project=project) == 4
    assert len(callbacks) == 1
    assert screening.screen_existing(project=project) == 0  # already queued
    assert CandidateScreening.objects.count() == 4


def test_the_key_and_host_rules_of_model_endpoints_apply(project):
    bad = ModerationEndpoint(
        project=project, base_url="http://evil.example.com/v1", api_key_env="SECRET_KEY"
    )
    with pytest.raises(Exception) as caught:
        screening.save_moderation(moderation=bad)
    assert set(caught.value.message_dict) == {"base_url", "api_key_env"}
    bad = ModerationEndpoint(
        project=project, base_url="http://127.0.0.1:1/v1", category_map={"hate": "rudeness"}
    )
    with pytest.raises(Exception) as caught:
        screening.save_moderation(moderation=bad)
    assert "rudeness" in str(caught.value.message_dict["category_map"])


def test_the_key_is_sent_from_the_environment_and_never_stored(project, moderation_server, api_key):
    configure(project, moderation_server, api_key_env="MODEL_KEY_TEST")
    item = make_item(project)
    screen_now(item.candidates.first())
    assert moderation_server.requests_for("omni")[0]["auth"] == f"Bearer {api_key}"
    stored = str(list(ModerationEndpoint.objects.values())) + str(
        list(CandidateScreening.objects.values())
    )
    assert api_key not in stored


def test_deleted_text_is_never_sent_to_the_moderation_endpoint(project, lead, moderation_server):
    from labeling.privacy.services import request_deletion

    configure(project, moderation_server)
    item = make_item(project, prompt="forget me please", responses=("[[hate]] a", "b"))
    screening.request_screening(candidate_ids=list(item.candidates.values_list("pk", flat=True)))
    request_deletion(project=project, by=lead, text="forget me please")
    for row in CandidateScreening.objects.all():
        assert screening.execute_screening(screening_id=row.pk, max_attempts=3).kind == "failed"
    assert moderation_server.log == []
    assert set(CandidateScreening.objects.values_list("error", flat=True)) == {
        "the prompt was deleted"
    }
