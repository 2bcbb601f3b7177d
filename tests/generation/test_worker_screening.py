"""A real Celery worker generates candidates and screens each one after it is made."""

import pytest

from labeling.generation import screening, services
from labeling.generation.models import CandidateScreening, GenerationJob, ModerationEndpoint
from labeling.judging import services as judging
from labeling.judging.models import Item
from labeling.projects.models import Candidate, Prompt
from labeling.projects.taxonomy import HARM_BITS
from tests.workers import celery_worker, flush_broker

from .conftest import make_endpoint
from .moderation_server import ModerationServer
from .test_worker_jobs import FAST, add_prompts, job_final, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def all_screened(project) -> bool:
    rows = CandidateScreening.objects.filter(candidate__prompt__project=project)
    total = Candidate.objects.filter(prompt__project=project).count()
    return total > 0 and rows.filter(status__in=["done", "failed"]).count() == total


def test_a_worker_screens_generated_candidates_retrying_a_500(
    project, lead, fault_server, tmp_path
):
    flush_broker()
    add_prompts(project, "[[hate]] write something", "say hello")
    restricted = judging.create_queue(project=project, name="Restricted")
    log = tmp_path / "worker.log"
    with ModerationServer() as moderation:
        screening.save_moderation(
            moderation=ModerationEndpoint(
                project=project,
                base_url=moderation.url,
                model="server-error",  # every input fails once with a 500, then answers
                timeout_seconds=5,
                route_to_queue=restricted,
            )
        )
        endpoint = make_endpoint(project, base_url=fault_server.url, model="ok")
        with celery_worker(name="screen", concurrency=2, log_path=log, extra_env=FAST):
            job = services.start_generation_job(
                project=project, by=lead, endpoints=[endpoint], samples_per_endpoint=2
            )
            wait_for(job_final(job), timeout=120, what="the job to finish", logs=[log])
            wait_for(lambda: all_screened(project), timeout=120, what="the screenings", logs=[log])
        assert len(moderation.requests_for("server-error")) == 8  # 4 candidates, 2 tries each
    job.refresh_from_db()
    assert job.status == GenerationJob.Status.DONE
    rows = CandidateScreening.objects.select_related("candidate__prompt")
    assert [(r.status, r.attempts) for r in rows] == [("done", 2)] * 4
    for row in rows:
        hateful = "[[hate]]" in row.candidate.prompt.messages[0]["content"]
        assert row.flagged is hateful and row.model == "server-error-served"
        assert row.candidate.harm_mask == (HARM_BITS["hate"] if hateful else 0)
    hateful_prompt = Prompt.objects.get(messages__0__content__startswith="[[hate]]")
    (item,) = Item.objects.filter(prompt=hateful_prompt)
    assert item.harm_mask == HARM_BITS["hate"] and item.queue == restricted
    (calm,) = Item.objects.exclude(prompt=hateful_prompt)
    assert calm.harm_mask == 0 and calm.queue.is_default
