"""How fast `import_prompts` writes 10,000 records, against PostgreSQL's COPY as the floor.

Run with `.venv/bin/python -m benchmarks.bench_import`. It uses the test settings and a
scratch database `labeling_bench` on the test PostgreSQL server (TEST_DATABASE_URL), created
and migrated if needed and emptied of projects at the start of every run.

Each import goes into a fresh project. The import's time covers reading, validating and
writing the file; the COPY baseline writes the same rows (ids reserved from the sequences,
then one COPY per table) from records parsed beforehand, so it is the cost of the writes alone.
"""

import io
import json
import os
import random
import statistics
import time
from collections.abc import Callable

import psycopg

RECORDS = 10_000
RUNS = 5
PROMPT_CHARS = 200
RESPONSE_CHARS = 1_200
BENCH_DB = "labeling_bench"
DEFAULT_TEST_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/labeling"

# Prose-like filler with some punctuation and quotes, as real prompts and responses have.
SAMPLE_TEXT = (
    "the a an answer question model user should would could because however example "
    "python list tuple function returns value error please explain why how when where "
    "it is not clear that this will work, but you can try: first install, then run; "
    '"quoted" words and numbers like 42 or 3.14 appear too. it\'s fine.'
)
WORDS = SAMPLE_TEXT.split()


def use_scratch_database() -> None:
    """Point the test settings at `labeling_bench`, creating the database if it is missing."""
    base = os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL)
    server = base.rsplit("/", 1)[0]
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    os.environ["TEST_DATABASE_URL"] = f"{server}/{BENCH_DB}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"


def words(rng: random.Random, chars: int) -> str:
    out: list[str] = []
    size = 0
    while size < chars:
        word = rng.choice(WORDS)
        out.append(word)
        size += len(word) + 1
    return " ".join(out)


def make_file(records: int = RECORDS) -> bytes:
    """A JSONL file of prompts (~200 chars) with two responses (~1,200 chars) each."""
    rng = random.Random(20_241_123)
    lines = []
    for n in range(records):
        record = {
            "external_id": f"bench-{n}",
            "prompt": words(rng, PROMPT_CHARS),
            "responses": [
                {"text": words(rng, RESPONSE_CHARS), "model": "model-a"},
                {"text": words(rng, RESPONSE_CHARS), "model": "model-b"},
            ],
            "metadata": {"source_user_id": f"u-{rng.randrange(100_000)}"},
            "consent": "granted",
        }
        lines.append(json.dumps(record))
    return ("\n".join(lines) + "\n").encode()


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def copy_rows(*, project, records) -> None:
    """Write the same rows as the import with one COPY per table (the physical floor)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from labeling.judging.models import Item, ItemCandidate
    from labeling.projects.models import Candidate, Prompt

    now = timezone.now()
    n_candidates = sum(len(r.responses) for r in records)
    n_items = sum(1 for r in records if r.responses)
    with transaction.atomic(), connection.cursor() as wrapper:
        cursor = wrapper.cursor  # the psycopg cursor under Django's wrapper

        def reserve(model, count: int) -> list[int]:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [model._meta.db_table, count],
            )
            return [row[0] for row in cursor.fetchall()]

        prompt_ids = reserve(Prompt, len(records))
        candidate_ids = iter(reserve(Candidate, n_candidates))
        item_ids = iter(reserve(Item, n_items))

        prompt_rows, candidate_rows, item_rows, slot_rows = [], [], [], []
        for record, prompt_id in zip(records, prompt_ids, strict=True):
            prompt_rows.append(
                (
                    prompt_id,
                    now,
                    now,
                    project.pk,
                    json.dumps(record.messages),
                    record.external_id,
                    record.consent,
                    json.dumps(record.metadata),
                )
            )
            if not record.responses:
                continue
            item_id = next(item_ids)
            item_rows.append((item_id, now, now, project.pk, prompt_id, 0))
            for slot, response in enumerate(record.responses):
                candidate_id = next(candidate_ids)
                candidate_rows.append(
                    (
                        candidate_id,
                        now,
                        now,
                        prompt_id,
                        response.text,
                        response.model,
                        json.dumps(response.metadata),
                    )
                )
                slot_rows.append((item_id, candidate_id, slot))

        tables = [
            (
                Prompt,
                "id, created_at, updated_at, project_id, messages, external_id, consent, metadata",
                prompt_rows,
            ),
            (
                Candidate,
                "id, created_at, updated_at, prompt_id, text, model_name, metadata",
                candidate_rows,
            ),
            (Item, "id, created_at, updated_at, project_id, prompt_id, priority", item_rows),
            (ItemCandidate, "item_id, candidate_id, slot", slot_rows),
        ]
        for model, columns, rows in tables:
            with cursor.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)


def summary(label: str, seconds: list[float]) -> str:
    return (
        f"{label:<34} median {statistics.median(seconds):6.2f} s   "
        f"p99 (max of {len(seconds)}) {max(seconds):6.2f} s"
    )


def main() -> None:
    use_scratch_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from labeling.projects.importing import import_prompts, parse_file
    from labeling.projects.models import Project

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Project._meta.db_table} CASCADE")

    data = make_file()
    print(f"{RECORDS:,} JSONL records, {len(data) / 1e6:.1f} MB, {RUNS} runs each, on {BENCH_DB}")

    import_times = []
    for run in range(RUNS):
        project = Project.objects.create(name=f"bench import {run}", slug=f"bench-import-{run}")

        def do_import(project: Project = project) -> None:
            batch = import_prompts(
                project=project, fileobj=io.BytesIO(data), filename="bench.jsonl", by=None
            )
            assert batch.prompts_created == RECORDS, batch.prompts_created

        import_times.append(timed(do_import))

    copy_times = []
    for run in range(RUNS):
        project = Project.objects.create(name=f"bench copy {run}", slug=f"bench-copy-{run}")
        records = parse_file(project=project, fileobj=io.BytesIO(data), filename="bench.jsonl")
        copy_times.append(timed(lambda p=project, r=records: copy_rows(project=p, records=r)))

    ratio = statistics.median(import_times) / statistics.median(copy_times)
    print(summary("import_prompts (parse+validate+write)", import_times))
    print(summary("COPY baseline (writes only)", copy_times))
    print(f"ratio import/COPY (medians): {ratio:.1f}x")


if __name__ == "__main__":
    main()
