"""The export job on real Celery workers: it runs, and survives its worker being killed."""

import os
import signal
import time

import pytest

from labeling.datasets.models import Export
from labeling.datasets.services import (
    _scratch_root,
    options_for,
    restart_export,
    run_export,
    start_export,
)
from tests.factories import make_item
from tests.workers import celery_worker, flush_broker

from .helpers import answer, export_now, folder_of, judge


def _judged_items(project, trainer, n: int) -> None:
    for k in range(n):
        item = make_item(project, prompt=f"Question {k}?", responses=(f"yes {k}", f"no {k}"))
        good = item.slots.order_by("slot").values_list("candidate_id", flat=True)[0]
        judge(project, trainer, lambda it, good=good: answer(project, winner=good))


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _final(export_id: int):
    export = Export.objects.get(pk=export_id)
    return export if export.is_final else None


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_export_queued_from_the_service_runs_on_a_real_worker(
    project, trainer, researcher, exports_dir
):
    _judged_items(project, trainer, 3)
    flush_broker()
    options = options_for(project=project, data={"format": "openai", "test_ratio": 0})
    with celery_worker(name="exports", extra_env={"EXPORTS_DIR": str(exports_dir)}):
        export = start_export(project=project, user=researcher, options=options)
        done = _wait_for(lambda: _final(export.pk), 60, "the export to finish")
    assert done.status == Export.Status.DONE, done.error
    assert done.counts["rows"] == {"train": 3}
    assert (folder_of(exports_dir, done) / "data/train.jsonl").read_text().count("\n") == 3


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_job_whose_worker_is_killed_is_taken_over_and_never_listed_half_written(
    project, trainer, researcher, exports_dir
):
    _judged_items(project, trainer, 30)
    data = {"format": "trl_explicit", "test_ratio": 0.3, "seed": 4}
    reference = export_now(project, **data)  # the same export, uninterrupted
    flush_broker()
    env = {
        "EXPORTS_DIR": str(exports_dir),
        "CELERY_VISIBILITY_TIMEOUT": "5",  # redeliver an unacknowledged task after 5 s
        "EXPORT_STALE_SECONDS": "3",  # a worker silent for 3 s is presumed dead
    }
    # One item per batch and a pause after each: the job is still running when it is killed.
    slow = options_for(project=project, data={**data, "batch_size": 1, "throttle_ms": 150})
    with celery_worker(name="doomed", extra_env=env) as doomed:
        export = start_export(project=project, user=researcher, options=slow)
        _wait_for(
            lambda: Export.objects.filter(pk=export.pk, progress_done__gte=3).exists(),
            60,
            "the first attempt to make progress",
        )
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait()
    killed_at = time.monotonic()

    export.refresh_from_db()
    assert export.status == Export.Status.RUNNING and export.attempt == 1
    assert export.files == [] and export.fingerprint == ""
    assert not (exports_dir / export.folder / "data").exists()  # nothing half-written in place
    assert list(_scratch_root().glob(f"export-{export.pk}-attempt-1"))  # the dead attempt's

    # Past the visibility timeout, a new worker gets the unacknowledged task back.
    time.sleep(max(0.0, 6 - (time.monotonic() - killed_at)))
    with celery_worker(name="rescuer", extra_env=env):
        done = _wait_for(lambda: _final(export.pk), 120, "the rescued export to finish")
    assert done.status == Export.Status.DONE, done.error
    assert done.attempt == 2
    assert done.fingerprint == reference.fingerprint  # same bytes as the uninterrupted run
    for f in done.data_files():
        path = folder_of(exports_dir, done) / f["name"]
        assert path.read_bytes() == (folder_of(exports_dir, reference) / f["name"]).read_bytes()
    assert not list(_scratch_root().glob(f"export-{export.pk}-attempt-*"))


@pytest.mark.django_db(transaction=True)
def test_a_failed_export_keeps_no_files_and_runs_again_cleanly(
    project, trainer, researcher, exports_dir
):
    _judged_items(project, trainer, 2)
    options = options_for(project=project, data={"format": "hh", "test_ratio": 0})
    export = start_export(project=project, user=researcher, options=options, enqueue=False)
    Export.objects.filter(pk=export.pk).update(options={**export.options, "bogus": 1})
    assert run_export(export_id=export.pk) == "failed"
    export.refresh_from_db()
    assert export.status == Export.Status.FAILED and "bogus" in export.error
    assert export.files == [] and not (exports_dir / export.folder / "data").exists()

    Export.objects.filter(pk=export.pk).update(options=options.to_dict())
    export = restart_export(export=export, enqueue=False)  # run below, in this process
    assert export.status == Export.Status.QUEUED
    assert run_export(export_id=export.pk) == "done"
    export.refresh_from_db()
    assert export.attempt == 2 and export.counts["rows"] == {"train": 2}
    assert run_export(export_id=export.pk) == "gone"  # a late redelivery does nothing
