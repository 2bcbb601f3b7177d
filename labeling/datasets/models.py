from django.conf import settings
from django.db import models
from django.db.models import Q

from labeling.core.models import TimeStamped
from labeling.projects.models import Project


class Export(TimeStamped):
    """One versioned dataset built from a project's judgments. Never overwritten."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    FINAL = (Status.DONE, Status.FAILED)

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="exports")
    version = models.PositiveIntegerField()
    format = models.CharField(max_length=32)
    file_type = models.CharField(max_length=16)
    # The canonical options (every field, defaults included) the dataset was built with.
    options = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Bumped by every claim: a worker whose attempt is no longer current stops writing.
    attempt = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    progress_done = models.PositiveBigIntegerField(default=0)
    progress_total = models.PositiveBigIntegerField(default=0)
    error = models.TextField(blank=True)
    # Filled when done: storage folder, [{name, split, rows, bytes, sha256}], counts.
    folder = models.CharField(max_length=255, blank=True)
    files = models.JSONField(default=list, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    total_bytes = models.PositiveBigIntegerField(default=0)
    # sha256 over the data files and the card: equal for two exports with the same content.
    fingerprint = models.CharField(max_length=64, blank=True)
    # A deletion request withdrew this export (no longer downloadable); its files are
    # deleted at the next retention purge.
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    files_deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["project", "version"], name="export_version_unique"),
            models.CheckConstraint(
                condition=~Q(status="done") | ~Q(fingerprint=""), name="export_done_has_files"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project.slug} v{self.version}"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL

    @property
    def percent(self) -> int:
        if not self.progress_total:
            return 100 if self.status == self.Status.DONE else 0
        return min(100, round(100 * self.progress_done / self.progress_total))

    @property
    def rows_total(self) -> int:
        return sum(f.get("rows", 0) for f in self.files if f.get("split"))

    def data_files(self) -> list[dict]:
        return [f for f in self.files if f.get("split")]
