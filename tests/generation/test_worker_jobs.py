"""A real Celery worker on the real Redis broker runs generation jobs end to end.

Models: the embedded SmolLM2 (in the worker), llama.cpp's own OpenAI-compatible server
serving the same GGUF, and our fault-injecting stub. Workers are killed with SIGKILL mid-job.
"""

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connection
from django.urls import reverse

from labeling.generation import services
from labeling.generation.models import GenerationJob, GenerationUnit, ModelEndpoint
from labeling.judging.models import Item
from labeling.projects.models import Candidate, Prompt
from tests.workers import celery_worker, flush_broker

from .conftest import make_endpoint
from .fault_server import FaultServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

Status = GenerationUnit.Status
# Short waits so a test that kills a worker finishes in seconds, not minutes.
FAST = {
    "GENERATION_RETRY_BASE_SECONDS": "0.2",
    "GENERATION_SLOT_WAIT_SECONDS": "5",
    "GENERATION_LEASE_MARGIN_SECONDS": "1",
}


def wait_for(check: Callable[[], bool], *, timeout: float, what: str, logs=()) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            tails = "\n".join(Path(p).read_text()[-4000:] for p in logs)
            raise AssertionError(f"timed out waiting for {what}\n{tails}")
        time.sleep(0.2)


def job_final(job: GenerationJob) -> Callable[[], bool]:
    def check() -> bool:
        job.refresh_from_db()
        return services.job_progress(job=job).is_final

    return check


def mid_job(job: GenerationJob, stub: FaultServer) -> Callable[[], bool]:
    """True once a unit is done and another one's request is in flight at the stub."""
    return lambda: job.units.filter(status=Status.DONE).exists() and stub.in_flight["slow"] == 1


def add_prompts(project, *texts: str) -> list[Prompt]:
    return [
        Prompt.objects.create(project=project, messages=[{"role": "user", "content": t}])
        for t in texts
    ]


def assert_stored_exactly_once(job: GenerationJob) -> None:
    units = list(job.units.all())
    assert all(u.status == Status.DONE for u in units), [(u.pk, u.status, u.error) for u in units]
    candidate_ids = [u.candidate_id for u in units]
    assert len(set(candidate_ids)) == len(units)
    assert Candidate.objects.filter(prompt__project=job.project).count() == len(units)
    keys = set(Candidate.objects.values_list("generation_key", flat=True))
    assert keys == {u.key for u in units}


def children_of(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def test_a_worker_generates_with_the_embedded_model_and_llama_cpp_server(
    project, lead, llama_server, tmp_path
):
    flush_broker()
    add_prompts(project, "Name a fruit.", "Say something about the sea.")
    embedded = make_endpoint(
        project, name="Embedded", kind=ModelEndpoint.Kind.LOCAL, max_tokens=16, temperature=1.0,
        max_concurrency=1, timeout_seconds=60,
    )  # fmt: skip
    server = make_endpoint(
        project, name="llama.cpp server", base_url=llama_server, model="smollm2-135m",
        max_tokens=16, temperature=1.0, timeout_seconds=60,
    )  # fmt: skip
    log = tmp_path / "worker.log"
    with celery_worker(name="gen-happy", concurrency=2, log_path=log):
        job = services.start_generation_job(project=project, by=lead, endpoints=[embedded, server])
        wait_for(job_final(job), timeout=240, what="the job to finish", logs=[log])
    job.refresh_from_db()
    assert job.status == GenerationJob.Status.DONE
    assert_stored_exactly_once(job)
    for unit in job.units.select_related("candidate"):
        meta = unit.candidate.metadata["generation"]
        assert meta["job"] == job.pk and meta["unit"] == unit.pk
        assert meta["params"]["max_tokens"] == 16 and meta["seed"] == unit.params["seed"]
        assert meta["finish_reason"] in {"stop", "length"}
        assert meta["completion_tokens"] > 0 and meta["prompt_tokens"] > 0
        assert meta["latency_ms"] > 0
        assert unit.candidate.text.strip()
        expected = "SmolLM2-135M-Instruct" if unit.endpoint_id == embedded.pk else "smollm2-135m"
        assert unit.candidate.model_name == expected
    for prompt in Prompt.objects.filter(project=project):
        texts = {" ".join(c.text.split()) for c in prompt.candidates.all()}
        expected_items = 1 if len(texts) == 2 else 0  # identical responses are not paired
        assert Item.objects.filter(prompt=prompt).count() == expected_items
    assert job.items_created == Item.objects.filter(project=project).count()


def test_faults_are_retried_and_a_401_fails_with_its_message(project, lead, api_key, tmp_path):
    flush_broker()
    add_prompts(project, "first", "second")
    log = tmp_path / "worker.log"
    with FaultServer(hang=3.0) as stub:
        endpoints = {
            model: make_endpoint(
                project,
                name=model,
                base_url=stub.url,
                model=model,
                timeout_seconds=1,
                api_key_env="MODEL_KEY_TEST",
            )  # fmt: skip
            for model in ("rate-limited", "server-error", "hang", "unauthorized")
        }
        env = {**FAST, "MODEL_KEY_TEST": api_key}
        with celery_worker(name="gen-faults", concurrency=2, log_path=log, extra_env=env):
            job = services.start_generation_job(
                project=project, by=lead, endpoints=list(endpoints.values())
            )
            wait_for(job_final(job), timeout=120, what="the job to finish", logs=[log])
        for model in ("rate-limited", "server-error", "hang"):
            units = job.units.filter(endpoint=endpoints[model])
            assert [(u.status, u.attempts) for u in units] == [(Status.DONE, 2)] * 2, model
            assert all(n == 2 for key, n in stub.attempts.items() if key[0] == model)
        denied = job.units.filter(endpoint=endpoints["unauthorized"])
        assert [(u.status, u.attempts, u.error_status) for u in denied] == [
            (Status.FAILED, 1, 401)
        ] * 2
        assert all("Incorrect API key provided" in u.error for u in denied)
        assert all(api_key not in u.error for u in denied)
        assert len(stub.requests_for("unauthorized")) == 2  # never retried
        # Retry-After: 2 was honoured before the second request.
        for prompt in ("first", "second"):
            first, second = [
                r["at"] for r in stub.requests_for("rate-limited") if r["prompt"] == prompt
            ]
            assert second - first >= 1.9
    job.refresh_from_db()
    assert job.status == GenerationJob.Status.DONE
    done = job.units.filter(status=Status.DONE)
    assert done.count() == 6
    assert Candidate.objects.filter(prompt__project=project).count() == 6
    assert len(set(done.values_list("candidate_id", flat=True))) == 6
    progress = services.job_progress(job=job)
    assert (progress.done, progress.failed) == (6, 2)
    assert any("HTTP 401" in e["error"] for e in progress.errors)


def test_the_api_key_never_reaches_the_database_the_html_or_the_logs(
    project, lead, api_key, tmp_path, client, caplog
):
    flush_broker()
    add_prompts(project, "hello", "world")
    log = tmp_path / "worker.log"
    with FaultServer() as stub:
        good = make_endpoint(
            project, name="good", base_url=stub.url, model="ok", api_key_env="MODEL_KEY_TEST"
        )
        bad = make_endpoint(
            project,
            name="bad",
            base_url=stub.url,
            model="unauthorized",
            api_key_env="MODEL_KEY_TEST",
        )
        env = {**FAST, "MODEL_KEY_TEST": api_key, "LOG_LEVEL": "DEBUG"}
        with celery_worker(name="gen-key", concurrency=2, log_path=log, extra_env=env):
            job = services.start_generation_job(project=project, by=lead, endpoints=[good, bad])
            wait_for(job_final(job), timeout=60, what="the job to finish", logs=[log])
        client.force_login(lead)
        pages = [
            client.get(reverse("generation_endpoints", args=[project.slug])),
            client.post(reverse("generation_endpoint_test", args=[project.slug, bad.pk])),
            client.get(reverse("generation_job", args=[project.slug, job.pk])),
            client.get(reverse("generation_endpoint_edit", args=[project.slug, bad.pk])),
        ]
        sent = [r["body"] for r in stub.log]
    assert len(sent) == 5 and all(r["model"] in {"ok", "unauthorized"} for r in sent)
    html = "".join(p.content.decode() for p in pages)
    assert "Incorrect API key provided" in html and "MODEL_KEY_TEST" in html
    fragments = [api_key, api_key[len("sk-test-") :]]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
        tables = [row[0] for row in cursor.fetchall()]
        dump = []
        for table in tables:
            cursor.execute(f'SELECT row_to_json(t)::text FROM "{table}" t')
            dump.extend(row[0] for row in cursor.fetchall())
    database = "\n".join(dump)
    assert "Incorrect API key provided" in database
    worker_log = log.read_text()
    assert "unauthorized" in worker_log or "401" in worker_log
    for secret in fragments:
        assert secret not in database
        assert secret not in html
        assert secret not in worker_log
        assert secret not in caplog.text


def test_a_pool_child_killed_mid_job_loses_nothing(project, lead, tmp_path):
    flush_broker()
    add_prompts(project, *[f"prompt {n}" for n in range(6)])
    log = tmp_path / "worker.log"
    with FaultServer(slow=1.0) as stub:
        slow = make_endpoint(project, base_url=stub.url, model="slow", timeout_seconds=5)
        with celery_worker(name="gen-child", concurrency=1, log_path=log, extra_env=FAST) as w:
            job = services.start_generation_job(project=project, by=lead, endpoints=[slow])
            wait_for(mid_job(job, stub), timeout=60, what="a unit in flight", logs=[log])
            (child,) = children_of(w.pid)
            os.kill(child, signal.SIGKILL)
            wait_for(job_final(job), timeout=120, what="the job to finish", logs=[log])
            assert w.poll() is None  # the main process survived and replaced its child
        assert max(stub.attempts.values()) == 2  # the killed unit really ran twice
    assert "WorkerLostError" in log.read_text() or "SIGKILL" in log.read_text()
    assert_stored_exactly_once(job)


def test_a_main_worker_process_killed_mid_job_is_redelivered_to_a_new_worker(
    project, lead, tmp_path
):
    flush_broker()
    add_prompts(project, *[f"prompt {n}" for n in range(6)])
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    with FaultServer(slow=1.0) as stub:
        slow = make_endpoint(project, base_url=stub.url, model="slow", timeout_seconds=5)
        with celery_worker(name="gen-main", concurrency=1, log_path=first_log, extra_env=FAST) as w:
            job = services.start_generation_job(project=project, by=lead, endpoints=[slow])
            wait_for(mid_job(job, stub), timeout=60, what="a unit in flight", logs=[first_log])
            os.killpg(w.pid, signal.SIGKILL)  # the whole machine goes: main process and child
            w.wait(timeout=10)
        assert job.units.exclude(status=Status.DONE).exists()  # work was left over
        # The new worker restores the dead one's unacknowledged message once it is older than
        # the (short, for the test) visibility timeout, and runs the rest of the queue.
        env = {
            **FAST,
            "DJANGO_SETTINGS_MODULE": "tests.generation.worker_settings",
            "CELERY_VISIBILITY_TIMEOUT": "5",
        }
        with celery_worker(name="gen-after", concurrency=1, log_path=second_log, extra_env=env):
            wait_for(job_final(job), timeout=120, what="the job to finish", logs=[second_log])
        assert max(stub.attempts.values()) == 2  # the unit in flight at the kill ran again
    assert_stored_exactly_once(job)


def test_the_endpoint_concurrency_limit_holds_across_two_workers(project, lead, tmp_path):
    flush_broker()
    add_prompts(project, *[f"prompt {n}" for n in range(6)])
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    with FaultServer(slow=0.3) as stub:
        slow = make_endpoint(project, base_url=stub.url, model="slow", max_concurrency=2)
        with (
            celery_worker(name="gen-a", concurrency=3, log_path=logs[0], extra_env=FAST),
            celery_worker(name="gen-b", concurrency=3, log_path=logs[1], extra_env=FAST),
        ):
            job = services.start_generation_job(
                project=project, by=lead, endpoints=[slow], samples_per_endpoint=2
            )
            wait_for(job_final(job), timeout=120, what="the job to finish", logs=logs)
        assert len(stub.log) == 12
        assert 1 <= stub.max_in_flight["slow"] <= 2
    assert_stored_exactly_once(job)
