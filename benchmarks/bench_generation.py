"""What the generation pipeline costs over calling a model directly, measured in one run.

Run with `.venv/bin/python -m benchmarks.bench_generation`. Two comparisons:

1. Overhead: a job of UNITS units through Celery (a real worker, prefork pool of CONCURRENCY
   processes, Redis broker, PostgreSQL, the endpoint's concurrency limit set to CONCURRENCY)
   against the same number of direct `backends.complete()` calls from CONCURRENCY threads, both
   to our stub OpenAI-compatible server on 127.0.0.1 that answers at once. The difference is
   our overhead: enqueue, claim, limiter, the candidate and unit writes, pairing into items.
2. The embedded SmolLM2-135M: tokens per second through the pipeline (one worker process)
   against llama-cpp-python's `create_chat_completion` called directly with the same
   parameters.

It uses the test settings, a scratch database `labeling_bench_gen` on the test PostgreSQL server
(TEST_DATABASE_URL) and the Redis database BENCH_REDIS_URL (default db 14, flushed at start).
"""

import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg

UNITS = 300  # 150 prompts × 2 samples
CONCURRENCY = 4
ROUNDS = 3
LOCAL_PROMPTS = 4
LOCAL_MAX_TOKENS = 64
LOCAL_ROUNDS = 3
BENCH_DB = "labeling_bench_gen"
WORKER_SETTINGS = "tests.generation.bench_settings"  # persistent DB connections, as in production
DEFAULT_TEST_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/labeling"


def use_scratch_database() -> None:
    base = os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL)
    server = base.rsplit("/", 1)[0]
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    os.environ["TEST_DATABASE_URL"] = f"{server}/{BENCH_DB}"
    os.environ["TEST_REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def fmt(values: list[float]) -> str:
    each = ", ".join(f"{v:.1f}" for v in values)
    return f"median {statistics.median(values):5.1f}  ({each})"


def main() -> None:
    use_scratch_database()
    import django

    django.setup()
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per direct call otherwise
    from django.core.management import call_command
    from django.db import connection

    from labeling.generation import backends, services
    from labeling.generation.models import GenerationJob, ModelEndpoint
    from labeling.projects.models import Project, Prompt
    from tests.generation.fault_server import FaultServer
    from tests.workers import celery_worker, flush_broker

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Project._meta.db_table}, generation_modelendpoint CASCADE")
    flush_broker()

    def new_project(name: str, prompts: int) -> Project:
        project = Project.objects.create(name=name, slug=name.replace(" ", "-"))
        Prompt.objects.bulk_create(
            Prompt(project=project, messages=[{"role": "user", "content": f"{name} question {n}"}])
            for n in range(prompts)
        )
        return project

    def run_job(project: Project, endpoint: ModelEndpoint, samples: int) -> tuple[float, object]:
        started = time.perf_counter()
        job = services.start_generation_job(
            project=project, by=None, endpoints=[endpoint], samples_per_endpoint=samples
        )
        while True:
            job.refresh_from_db(fields=["status", "started_at", "finished_at"])
            if services.job_progress(job=job).is_final:
                break
            time.sleep(0.01)
        return time.perf_counter() - started, job

    # 1. Overhead against the stub ------------------------------------------------------------
    celery_s, direct_s, unit_ms, call_ms = [], [], [], []
    with FaultServer() as stub:
        env = {"DJANGO_SETTINGS_MODULE": WORKER_SETTINGS}
        with celery_worker(name="bench", concurrency=CONCURRENCY, extra_env=env) as worker:
            for rnd in range(ROUNDS):
                project = new_project(f"bench stub {rnd}", UNITS // 2)
                endpoint = ModelEndpoint.objects.create(
                    project=project, name="stub", base_url=stub.url, model="ok",
                    max_tokens=16, max_concurrency=CONCURRENCY, timeout_seconds=10,
                )  # fmt: skip
                seconds, job = run_job(project, endpoint, samples=2)
                assert job.status == GenerationJob.Status.DONE, job.status
                assert job.units.filter(status="done").count() == UNITS
                celery_s.append(seconds)
                for started, finished in job.units.values_list("started_at", "finished_at"):
                    unit_ms.append((finished - started).total_seconds() * 1000)

                # The same calls, made directly from CONCURRENCY threads.
                params = services.unit_params(endpoint=endpoint, overrides={})
                messages = [
                    [{"role": "user", "content": f"direct {rnd} question {n}"}]
                    for n in range(UNITS)
                ]

                def call(msgs: list[dict], endpoint=endpoint, params=params) -> float:
                    t = time.perf_counter()
                    backends.complete(endpoint=endpoint, messages=msgs, params=params)
                    return (time.perf_counter() - t) * 1000

                started = time.perf_counter()
                with ThreadPoolExecutor(CONCURRENCY) as pool:
                    call_ms.extend(pool.map(call, messages))
                direct_s.append(time.perf_counter() - started)
            worker_log = worker.log_path
    celery_med, direct_med = statistics.median(celery_s), statistics.median(direct_s)
    print(
        f"Overhead: {UNITS} units per round, {ROUNDS} rounds, concurrency {CONCURRENCY}, "
        f"stub server on 127.0.0.1 answering at once"
    )
    print(
        f"  Celery job        median {celery_med:6.2f} s  ({UNITS / celery_med:7.1f} units/s)"
        f"   p99 (max of {ROUNDS}) {max(celery_s):6.2f} s"
    )
    print(
        f"  direct calls      median {direct_med:6.2f} s  ({UNITS / direct_med:7.1f} units/s)"
        f"   p99 (max of {ROUNDS}) {max(direct_s):6.2f} s"
    )
    print(f"  throughput ratio direct / Celery: {celery_med / direct_med:.1f}×")
    print(
        f"  overhead per unit: {(celery_med - direct_med) / UNITS * 1000:.1f} ms of wall time, "
        f"{(celery_med - direct_med) * CONCURRENCY / UNITS * 1000:.1f} ms per worker slot"
    )
    print(
        f"  one unit in the worker (claim → stored): median {statistics.median(unit_ms):.1f} ms, "
        f"p99 {pct(unit_ms, 0.99):.1f} ms; one direct call: median "
        f"{statistics.median(call_ms):.1f} ms, p99 {pct(call_ms, 0.99):.1f} ms"
    )

    # 2. The embedded model, pipeline and direct calls alternating ------------------------------
    llama = backends.local_llama()
    llama.create_chat_completion(messages=[{"role": "user", "content": "hi"}], max_tokens=4)
    pipe_tps, model_tps, direct_tps = [], [], []
    env = {"DJANGO_SETTINGS_MODULE": WORKER_SETTINGS}
    with celery_worker(name="bench-local", concurrency=1, extra_env=env):
        # Warm the worker's model with one unit of another project, so load time is excluded.
        warm = new_project("bench warm", 1)
        warm_endpoint = ModelEndpoint.objects.create(
            project=warm, name="warm", kind=ModelEndpoint.Kind.LOCAL, max_tokens=4
        )
        run_job(warm, warm_endpoint, samples=1)
        for rnd in range(LOCAL_ROUNDS):
            project = new_project(f"bench local {rnd}", LOCAL_PROMPTS)
            local = ModelEndpoint.objects.create(
                project=project, name="embedded", kind=ModelEndpoint.Kind.LOCAL,
                max_tokens=LOCAL_MAX_TOKENS, temperature=0.8, max_concurrency=1,
                timeout_seconds=300,
            )  # fmt: skip
            seconds, job = run_job(project, local, samples=1)
            units = list(job.units.select_related("prompt").order_by("id"))
            tokens = sum(u.completion_tokens for u in units)
            pipe_tps.append(tokens / seconds)
            model_tps.append(tokens / (sum(u.latency_ms for u in units) / 1000))
            tokens, started = 0, time.perf_counter()
            for unit in units:  # the same prompts, parameters and seeds, called directly
                out = llama.create_chat_completion(
                    messages=unit.prompt.messages,
                    temperature=unit.params["temperature"],
                    top_p=unit.params["top_p"],
                    max_tokens=unit.params["max_tokens"],
                    seed=unit.params.get("seed"),
                )
                tokens += out["usage"]["completion_tokens"]
            direct_tps.append(tokens / (time.perf_counter() - started))
    llama.close()
    print(
        f"Embedded SmolLM2-135M: {LOCAL_PROMPTS} prompts × {LOCAL_ROUNDS} rounds, max_tokens "
        f"{LOCAL_MAX_TOKENS}, one worker process; tokens/s per round"
    )
    print(f"  through the pipeline (job wall time)   {fmt(pipe_tps)}")
    print(f"  inside the worker (model call only)    {fmt(model_tps)}")
    print(f"  llama-cpp-python called directly       {fmt(direct_tps)}")
    print(
        "  ratio pipeline / direct (medians): "
        f"{statistics.median(pipe_tps) / statistics.median(direct_tps):.2f}"
    )
    print(f"(worker log: {worker_log})")


if __name__ == "__main__":
    main()
