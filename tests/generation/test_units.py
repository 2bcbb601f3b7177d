"""Units run in this process against our stub server: keys, provenance, retries, items."""

import pytest

from labeling.generation import services
from labeling.generation.models import GenerationJob, GenerationUnit
from labeling.judging.models import Item
from labeling.projects.models import Candidate, Prompt

from .conftest import make_endpoint

pytestmark = pytest.mark.django_db

Status = GenerationUnit.Status


def prompts(project, *texts: str) -> list[Prompt]:
    return [
        Prompt.objects.create(project=project, messages=[{"role": "user", "content": t}])
        for t in texts
    ]


def run_all(job: GenerationJob, *, max_attempts: int = 3) -> list[str]:
    """Execute every queued unit once, in id order, the way a worker would."""
    ids = job.units.filter(status=Status.QUEUED).order_by("id").values_list("pk", flat=True)
    return [services.execute_unit(unit_id=i, max_attempts=max_attempts).kind for i in ids]


def test_a_unit_key_depends_on_prompt_endpoint_params_and_sample_only():
    params = {"model": "m", "temperature": 0.7}
    key = services.unit_key(prompt_id=1, endpoint_id=2, params=params, sample_index=0)
    assert key == services.unit_key(
        prompt_id=1, endpoint_id=2, params=dict(reversed(params.items())), sample_index=0
    )
    hotter = {**params, "temperature": 1}
    others = {
        services.unit_key(prompt_id=9, endpoint_id=2, params=params, sample_index=0),
        services.unit_key(prompt_id=1, endpoint_id=9, params=params, sample_index=0),
        services.unit_key(prompt_id=1, endpoint_id=2, params=hotter, sample_index=0),
        services.unit_key(prompt_id=1, endpoint_id=2, params=params, sample_index=1),
    }
    assert key not in others and len(others) == 4


def test_a_job_makes_one_unit_per_prompt_endpoint_variant_and_sample(project, lead, fault_server):
    prompts(project, "one", "two")
    a = make_endpoint(project, name="A", base_url=fault_server.url, model="ok")
    b = make_endpoint(project, name="B", base_url=fault_server.url, model="ok", supports_seed=False)
    job = services.start_generation_job(
        project=project,
        by=lead,
        endpoints=[a, b],
        samples_per_endpoint=2,
        variants=[{"temperature": 0.2}, {"temperature": 1.0}],
        enqueue=False,
    )
    assert job.units_total == 2 * 2 * 2 * 2
    units = list(job.units.all())
    assert len({u.key for u in units}) == 16
    seeded = [u for u in units if u.endpoint_id == a.pk]
    assert all(u.params["seed"] == services.seed_from_key(u.key) for u in seeded)
    assert all("seed" not in u.params for u in units if u.endpoint_id == b.pk)
    assert {u.params["temperature"] for u in units} == {0.2, 1.0}


def test_running_a_job_stores_candidates_with_provenance_and_builds_items(
    project, lead, fault_server
):
    (p1, p2) = prompts(project, "What is 2+2?", "Name a colour.")
    a = make_endpoint(
        project, name="A", base_url=fault_server.url, model="ok", system_prompt="Be brief."
    )
    b = make_endpoint(project, name="B", base_url=fault_server.url, model="slow")
    job = services.start_generation_job(project=project, by=lead, endpoints=[a, b], enqueue=False)
    assert run_all(job) == ["done"] * 4
    job.refresh_from_db()
    assert job.status == GenerationJob.Status.DONE and job.finished_at
    candidate = Candidate.objects.get(
        prompt=p1, generation_key__isnull=False, model_name="ok-served"
    )
    meta = candidate.metadata["generation"]
    unit = GenerationUnit.objects.get(candidate=candidate)
    assert meta["job"] == job.pk and meta["unit"] == unit.pk and meta["unit_key"] == unit.key
    assert meta["endpoint"]["id"] == a.pk and meta["model"] == "ok-served"
    assert meta["model_requested"] == "ok" and meta["system_prompt"] == "Be brief."
    assert meta["params"] == unit.params and meta["seed"] == unit.params["seed"]
    assert meta["finish_reason"] == "stop" and meta["completion_tokens"] == 11
    assert meta["latency_ms"] >= 0
    sent = fault_server.requests_for("ok")[0]["body"]
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent["seed"] == unit.params["seed"] and sent["max_tokens"] == 24
    # One pair per prompt (two endpoints, one sample each).
    for prompt in (p1, p2):
        items = Item.objects.filter(prompt=prompt)
        assert items.count() == 1
        assert {c.model_name for c in items[0].candidates.all()} == {"ok-served", "slow-served"}
    assert job.items_created == 2


def test_a_rerun_of_a_job_reuses_the_stored_candidates(project, lead, fault_server):
    prompts(project, "Hello?")
    a = make_endpoint(project, base_url=fault_server.url, model="ok")
    first = services.start_generation_job(
        project=project, by=lead, endpoints=[a], samples_per_endpoint=2, enqueue=False
    )
    run_all(first)
    second = services.start_generation_job(
        project=project, by=lead, endpoints=[a], samples_per_endpoint=2, enqueue=False
    )
    assert run_all(second) == ["done", "done"]
    assert Candidate.objects.filter(generation_key__isnull=False).count() == 2
    assert len(fault_server.requests_for("ok")) == 2
    assert Item.objects.count() == 1  # the same pair is not built twice


def test_a_unit_executed_twice_is_stored_once(project, lead, fault_server):
    prompts(project, "Twice?")
    a = make_endpoint(project, base_url=fault_server.url, model="ok")
    job = services.start_generation_job(project=project, by=lead, endpoints=[a], enqueue=False)
    unit = job.units.get()
    assert services.execute_unit(unit_id=unit.pk, max_attempts=3).kind == "done"
    # A redelivered message after the unit finished: nothing to do.
    assert services.execute_unit(unit_id=unit.pk, max_attempts=3).kind == "skipped"
    # A second execution racing the first (e.g. the lease ran out): still one candidate.
    GenerationUnit.objects.filter(pk=unit.pk).update(status=Status.QUEUED)
    assert services.execute_unit(unit_id=unit.pk, max_attempts=3).kind == "done"
    assert Candidate.objects.filter(prompt__project=project).count() == 1


def test_retryable_errors_requeue_and_a_401_fails_at_once(project, lead, fault_server, api_key):
    prompts(project, "Q")
    limited = make_endpoint(project, name="429", base_url=fault_server.url, model="rate-limited")
    broken = make_endpoint(project, name="500", base_url=fault_server.url, model="server-error")
    denied = make_endpoint(
        project,
        name="401",
        base_url=fault_server.url,
        model="unauthorized",
        api_key_env="MODEL_KEY_TEST",
    )
    job = services.start_generation_job(
        project=project, by=lead, endpoints=[limited, broken, denied], enqueue=False
    )
    outcomes = {
        u.endpoint.name: services.execute_unit(unit_id=u.pk, max_attempts=3)
        for u in job.units.select_related("endpoint")
    }
    assert outcomes["429"].kind == "retry" and outcomes["429"].retry_after == 2
    assert outcomes["500"].kind == "retry"
    assert outcomes["401"].kind == "failed"
    failed = job.units.get(endpoint=denied)
    assert failed.status == Status.FAILED and failed.error_status == 401
    assert "Incorrect API key provided" in failed.error and api_key not in failed.error
    assert run_all(job) == ["done", "done"]
    assert job.units.filter(status=Status.DONE, attempts=2).count() == 2


def test_cancel_stops_queued_units_and_retry_failed_requeues_only_those(
    project, lead, fault_server
):
    prompts(project, "a", "b")
    ok = make_endpoint(project, base_url=fault_server.url, model="ok")
    bad = make_endpoint(project, name="bad", base_url=fault_server.url, model="no-such-model")
    job = services.start_generation_job(
        project=project, by=lead, endpoints=[ok, bad], enqueue=False
    )
    run_all(job)
    assert job.units.filter(status=Status.FAILED).count() == 2
    assert "does not exist" in job.units.filter(status=Status.FAILED).first().error
    assert services.retry_failed_units(job=job) == 2
    assert set(job.units.filter(status=Status.QUEUED).values_list("endpoint", flat=True)) == {
        bad.pk
    }
    assert services.cancel_job(job=job) == 2
    job.refresh_from_db()
    assert job.status == GenerationJob.Status.CANCELLED
    assert job.units.filter(status=Status.DONE).count() == 2
    assert run_all(job) == []


def test_progress_counts_units_tokens_and_groups_errors(project, lead, fault_server):
    prompts(project, "a", "b", "c")
    ok = make_endpoint(project, base_url=fault_server.url, model="ok")
    bad = make_endpoint(project, name="bad", base_url=fault_server.url, model="no-such-model")
    job = services.start_generation_job(
        project=project, by=lead, endpoints=[ok, bad], enqueue=False
    )
    run_all(job)
    job.refresh_from_db()
    progress = services.job_progress(job=job)
    assert (progress.total, progress.done, progress.failed) == (6, 3, 3)
    assert progress.completion_tokens == 33 and progress.is_final
    assert len(progress.errors) == 1 and progress.errors[0]["n"] == 3
