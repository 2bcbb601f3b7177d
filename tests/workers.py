"""Start a real Celery worker process on the test Redis broker and the test database.

Tests that use it need `django_db(transaction=True)`, so what they write is committed and
visible to the worker's own connections.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def worker_env(**extra: str) -> dict[str, str]:
    """The environment of a process that must see the database this test is using."""
    db_name = connection.settings_dict["NAME"]
    base_url = settings.TEST_DATABASE_URL.rsplit("/", 1)[0]
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        TEST_DATABASE_URL=f"{base_url}/{db_name}",
        TEST_REDIS_URL=settings.TEST_REDIS_URL,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def flush_broker() -> None:
    redis.Redis.from_url(settings.TEST_REDIS_URL).flushdb()


@contextmanager
def celery_worker(
    *,
    name: str = "w1",
    concurrency: int = 1,
    pool: str = "prefork",
    log_path: Path | None = None,
    extra_env: dict[str, str] | None = None,
    ready_timeout: float = 60.0,
) -> Iterator[subprocess.Popen]:
    """Run `celery -A labeling worker` until the block ends; its log goes to `log_path`."""
    log_path = log_path or Path(f"/tmp/celery-{name}-{os.getpid()}.log")
    cmd = [
        sys.executable, "-m", "celery", "-A", "labeling", "worker",
        "--loglevel", "INFO", "--concurrency", str(concurrency), "--pool", pool,
        "--hostname", f"{name}@%h", "--without-mingle", "--without-gossip",
    ]  # fmt: skip
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=worker_env(**(extra_env or {})),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + ready_timeout
        while "ready." not in log_path.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Celery worker did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        proc.log_path = log_path
        yield proc
    finally:
        stop_worker(proc)


def stop_worker(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass
