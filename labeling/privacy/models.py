from django.conf import settings
from django.db import models


class DeletionRequest(models.Model):
    """A request to take a person's data out of the platform, logged without the data itself.

    `match_digest` is a SHA-256 of the normalized match value, so a later request for the
    same person can be recognized without the log keeping what was deleted.
    """

    class Kind(models.TextChoices):
        SOURCE_USER = "source_user", "By source user id (import metadata)"
        TEXT = "text", "By text (case-insensitive substring)"
        TRAINER = "trainer", "A trainer's own erasure"
        FLAGGED = "flagged", "Flagged as personal data by a trainer"

    project = models.ForeignKey(
        "projects.Project", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    match_digest = models.CharField(max_length=64)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    prompts_matched = models.PositiveIntegerField(default=0)
    candidates_matched = models.PositiveIntegerField(default=0)
    judgments_matched = models.PositiveIntegerField(default=0)
    exports_withdrawn = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
