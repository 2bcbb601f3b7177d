"""Every write about exports: start one, run the job, run it again, compare two.

The job writes into a scratch folder, moves each finished file into storage under its final
name, and marks the export done last, in one conditional UPDATE fenced by the attempt number:
an export listed as done has all its files complete, and an attempt that was taken over
(worker presumed dead) can no longer touch the row.
"""

import logging
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, storages
from django.db import connection, transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from labeling.core import audit
from labeling.projects.models import Project

from .build import KEYS_NAME, MANIFEST_NAME, build_dataset, dimensions_of
from .card import render_manifest
from .models import Export
from .options import ExportOptions, OptionsError

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 0.5


class Superseded(Exception):
    """Another attempt took this export over; this one must stop without writing."""


def exports_storage():
    return storages["exports"]


def stale_after() -> timedelta:
    return timedelta(seconds=getattr(settings, "EXPORT_STALE_SECONDS", 300))


POSTGRES_ONLY = (
    "Exports stream rows with PostgreSQL's server-side cursors: set DATABASE_URL to a "
    "PostgreSQL database to export (the zero-configuration SQLite demo cannot)."
)


def options_for(*, project: Project, data: dict) -> ExportOptions:
    """Validated options for this project (its rubric decides the dimension choices)."""
    if connection.vendor != "postgresql":
        raise OptionsError(POSTGRES_ONLY)
    return ExportOptions.from_dict(data, dimension_keys=[k for k, _ in dimensions_of(project)])


@transaction.atomic
def start_export(*, project: Project, user, options: ExportOptions, enqueue: bool = True) -> Export:
    """Create the next version of the project's exports and queue its job after commit."""
    from .tasks import run_export_task

    Project.objects.select_for_update().filter(pk=project.pk).first()  # versions take turns
    last = Export.objects.filter(project=project).aggregate(v=Max("version"))["v"] or 0
    export = Export.objects.create(
        project=project,
        version=last + 1,
        format=options.format,
        file_type=options.file_type,
        options=options.to_dict(),
        created_by=user,
        folder=f"{project.slug}/v{last + 1}",
    )
    audit.record(
        action="export_created", actor=user, project=project, obj=export, format=options.format
    )
    if enqueue:
        transaction.on_commit(lambda: run_export_task.delay(export.pk))
    return export


class ExportWithdrawn(Exception):
    """A deletion request withdrew this export: its files may no longer be downloaded."""


def allow_download(*, export: Export, user) -> None:
    """Refuse a withdrawn export; otherwise log the download (every door comes here)."""
    if export.withdrawn_at:
        raise ExportWithdrawn("This export was withdrawn by a deletion request.")
    audit.record(action="export_download", actor=user, project=export.project, obj=export)


def delete_export_files(*, export: Export) -> None:
    """Remove a withdrawn export's files from storage (run by the retention purge)."""
    _clear_folder(exports_storage(), export.folder)
    Export.objects.filter(pk=export.pk).update(files_deleted_at=timezone.now())


@transaction.atomic
def restart_export(*, export: Export, enqueue: bool = True) -> Export:
    """Queue a failed (or stalled) export again; its next attempt starts from nothing."""
    stale = timezone.now() - stale_after()
    updated = (
        Export.objects.filter(pk=export.pk)
        .filter(
            Q(status=Export.Status.FAILED) | Q(status=Export.Status.RUNNING, heartbeat_at__lt=stale)
        )
        .update(status=Export.Status.QUEUED, progress_done=0, error="")
    )
    if updated and enqueue:
        from .tasks import run_export_task

        transaction.on_commit(lambda: run_export_task.delay(export.pk))
    export.refresh_from_db()
    return export


def _claim(export_id: int) -> Export | None:
    """Take the export if it is queued, or running with a silent (presumed dead) worker."""
    now = timezone.now()
    claimed = (
        Export.objects.filter(pk=export_id)
        .filter(
            Q(status=Export.Status.QUEUED)
            | Q(status=Export.Status.RUNNING, heartbeat_at__lt=now - stale_after())
        )
        .update(
            status=Export.Status.RUNNING,
            attempt=F("attempt") + 1,
            heartbeat_at=now,
            started_at=now,
            progress_done=0,
            error="",
        )
    )
    return Export.objects.select_related("project").get(pk=export_id) if claimed else None


def _fence(export: Export, **fields) -> None:
    """Update the export only while this attempt owns it."""
    updated = Export.objects.filter(
        pk=export.pk, attempt=export.attempt, status=Export.Status.RUNNING
    ).update(**fields)
    if not updated:
        raise Superseded(f"export {export.pk} attempt {export.attempt} was taken over")


def _scratch_root() -> Path:
    storage = exports_storage()
    # On the same filesystem as the exports folder, so publishing a file is a rename.
    if isinstance(storage, FileSystemStorage):
        return Path(storage.location) / ".scratch"
    return Path(tempfile.gettempdir()) / "labeling-exports"


class _LocalFile(File):
    """A finished local file; FileSystemStorage moves it into place instead of copying."""

    def temporary_file_path(self) -> str:
        return self.file.name


def _clear_folder(storage, folder: str) -> None:
    """Delete whatever an earlier attempt left under the export's folder."""
    try:
        dirs, files = storage.listdir(folder)
    except (FileNotFoundError, NotImplementedError):
        return
    for name in files:
        storage.delete(f"{folder}/{name}")
    for sub in dirs:
        _clear_folder(storage, f"{folder}/{sub}")


def _publish(storage, local: Path, name: str) -> None:
    with open(local, "rb") as fh:
        saved = storage.save(name, _LocalFile(fh, name=name))
    if saved != name:
        raise RuntimeError(f"storage stored {name} as {saved}")


def run_export(*, export_id: int) -> str:
    """Run an export's job: 'done', 'failed', 'busy' (another live worker has it) or 'gone'."""
    export = _claim(export_id)
    if export is None:
        status = Export.objects.filter(pk=export_id).values_list("status", flat=True).first()
        return "busy" if status == Export.Status.RUNNING else "gone"
    storage = exports_storage()
    scratch = _scratch_root() / f"export-{export.pk}-attempt-{export.attempt}"
    for leftover in _scratch_root().glob(f"export-{export.pk}-attempt-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    scratch.mkdir(parents=True)
    last = [0.0]

    def on_progress(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S or done == total:
            last[0] = now
            _fence(export, progress_done=done, progress_total=total, heartbeat_at=timezone.now())

    try:
        options = ExportOptions.from_dict(export.options)
        _clear_folder(storage, export.folder)
        result = build_dataset(
            project=export.project, options=options, out_dir=scratch, on_progress=on_progress
        )
        manifest = render_manifest(
            export=export, options=options, files=result.files, counts=result.counts
        )
        (scratch / MANIFEST_NAME).write_text(manifest)
        for entry in [*result.files, result.keys, {"name": MANIFEST_NAME}]:
            _fence(export, heartbeat_at=timezone.now())
            _publish(storage, scratch / entry["name"], f"{export.folder}/{entry['name']}")
        fingerprint = _fingerprint(result.files)
        _fence(
            export,
            status=Export.Status.DONE,
            finished_at=timezone.now(),
            files=[*result.files, {**result.keys, "kind": "index"}, {"name": MANIFEST_NAME}],
            counts=result.counts,
            total_bytes=sum(f["bytes"] for f in result.files),
            fingerprint=fingerprint,
        )
        return "done"
    except Superseded:
        log.warning("export %s: attempt %s was taken over; stopping", export.pk, export.attempt)
        return "superseded"
    except Exception as exc:
        log.exception("export %s failed", export.pk)
        try:
            _fence(
                export,
                status=Export.Status.FAILED,
                finished_at=timezone.now(),
                error=f"{type(exc).__name__}: {exc}"[:2000],
            )
        except Superseded:
            return "superseded"
        _clear_folder(storage, export.folder)
        return "failed"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _fingerprint(files: list[dict]) -> str:
    import hashlib

    lines = "".join(f"{f['sha256']}  {f['name']}\n" for f in sorted(files, key=lambda f: f["name"]))
    return hashlib.sha256(lines.encode()).hexdigest()


__all__ = ["KEYS_NAME", "options_for", "restart_export", "run_export", "start_export"]
