"""How fast an export turns N judgments into TRL JSONL, against a plain COPY dump of the rows.

    .venv/bin/python -m benchmarks.bench_export --judgments 100000
    .venv/bin/python -m benchmarks.bench_export --judgments 1000000

It uses the test settings and a scratch database `labeling_bench_export` on the test
PostgreSQL server (TEST_DATABASE_URL), created and migrated if needed. The data (one project
per size, `bench-<N>`) is made once with `make_synthetic` (COPY) and kept for later runs.

Both measured steps run in child processes, so their peak RSS is their own (os.wait4):
- the export: `manage.py export_dataset bench-<N> --format trl_explicit` (majority
  aggregation, split, card, manifest, sha256, publishing into storage), whole process
  including Django's start-up;
- the baseline: `COPY (SELECT <the same judgment, prompt and response rows>) TO STDOUT`
  streamed into a file by psycopg, the physical floor for reading those rows out.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

BENCH_DB = "labeling_bench_export"
DEFAULT_TEST_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/labeling"
ROOT = Path(__file__).resolve().parent.parent

BASELINE_SQL = """
COPY (
  SELECT j.id, a.trainer_id, j.preferred_id, j.strength, j.ranking, j.all_bad, j.shown_order,
         j.guideline_version, i.id, p.messages, c.id, c.text, c.model_name
  FROM judging_judgment j
  JOIN judging_assignment a ON a.id = j.assignment_id
  JOIN judging_item i ON i.id = a.item_id
  JOIN projects_prompt p ON p.id = i.prompt_id
  JOIN judging_itemcandidate ic ON ic.item_id = i.id
  JOIN projects_candidate c ON c.id = ic.candidate_id
  WHERE i.project_id = {project_id}
  ORDER BY i.prompt_id, i.id, j.id, ic.slot
) TO STDOUT
"""


def database_url() -> str:
    base = os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL)
    return f"{base.rsplit('/', 1)[0]}/{BENCH_DB}"


def use_scratch_database() -> None:
    """Point the test settings at the scratch database, creating it if it is missing."""
    server = database_url().rsplit("/", 1)[0]
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone():
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    os.environ["TEST_DATABASE_URL"] = database_url()
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"


def run_child(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float, str]:
    """Run a command; return (seconds, CPU seconds, peak RSS in MB, stdout)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({status}):\n{out}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out


def copy_baseline(project_id: int, out: str) -> None:
    """The child side of the baseline: COPY the rows into a file."""
    sql = BASELINE_SQL.format(project_id=int(project_id))
    with (
        psycopg.connect(database_url()) as conn,
        open(out, "wb") as f,
        conn.cursor().copy(sql) as copy,
    ):
        for chunk in copy:
            f.write(chunk)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--judgments", type=int, default=100_000)
    parser.add_argument("--copy-baseline", nargs=2, metavar=("PROJECT_ID", "OUT"))
    args = parser.parse_args()
    use_scratch_database()
    if args.copy_baseline:
        copy_baseline(*args.copy_baseline)
        return

    import django

    django.setup()
    from django.core.management import call_command

    from labeling.projects.models import Project

    call_command("migrate", verbosity=0)
    n = args.judgments
    slug = f"bench-{n}"
    project = Project.objects.filter(slug=slug).first()
    if project is None:
        start = time.perf_counter()
        call_command("make_synthetic", judgments=n, slug=slug)
        print(f"generated {n:,} judgments with COPY in {time.perf_counter() - start:.1f} s")
        project = Project.objects.get(slug=slug)

    scratch = Path(tempfile.mkdtemp(prefix="bench-export-"))
    env = {**os.environ, "EXPORTS_DIR": str(scratch / "exports"), "PYTHONUNBUFFERED": "1"}
    load_before = os.getloadavg()[0]
    try:
        export_s, export_cpu, export_rss, out = run_child(
            [sys.executable, "manage.py", "export_dataset", slug, "--format", "trl_explicit",
             "--set", "test_ratio=0.05"],
            env,
        )  # fmt: skip
        size = sum(f.stat().st_size for f in (scratch / "exports").rglob("*.jsonl"))
        copy_s, copy_cpu, copy_rss, _ = run_child(
            [sys.executable, "-m", "benchmarks.bench_export", "--copy-baseline",
             str(project.pk), str(scratch / "copy.tsv")],
            env,
        )  # fmt: skip
        copy_size = (scratch / "copy.tsv").stat().st_size
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(out.strip())
    print(f"{n:,} judgments -> TRL JSONL ({size / 1e6:,.0f} MB)")
    print(f"  export     {export_s:7.2f} s  {n / export_s:10,.0f} judgments/s  "
          f"peak RSS {export_rss:6.0f} MB  Python CPU {export_cpu:6.2f} s")  # fmt: skip
    print(f"  COPY dump  {copy_s:7.2f} s  {n / copy_s:10,.0f} judgments/s  "
          f"peak RSS {copy_rss:6.0f} MB  Python CPU {copy_cpu:6.2f} s  "
          f"({copy_size / 1e6:,.0f} MB)")  # fmt: skip
    print(f"  ratio export / COPY: {export_s / copy_s:.2f}x")
    print(f"  load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")


if __name__ == "__main__":
    main()
