"""Red teaming: attacks trainers write, their judged responses, promotions and exports.

An attack's conversation is an ordinary Prompt of the red-team project, so generation runs on
it unchanged; its responses are ordinary Candidates. What is red-team only lives here.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from labeling.core.models import TimeStamped
from labeling.generation.models import ModelEndpoint
from labeling.projects.models import Candidate, Project, Prompt
from labeling.projects.taxonomy import BASE_FLAGS

SEVERITY_MAX = 4


class Attack(TimeStamped):
    """An adversarial prompt: the harm it aims at (a taxonomy key) and the tactic used."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="attacks")
    prompt = models.OneToOneField(Prompt, on_delete=models.CASCADE, related_name="attack")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attacks"
    )
    category = models.CharField(max_length=40)
    tactic = models.CharField(max_length=300)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "author"], name="attack_project_author")]

    def __str__(self) -> str:
        return f"attack {self.pk}"

    @property
    def category_label(self) -> str:
        return next((f.label for f in BASE_FLAGS if f.key == self.category), self.category)


class AttemptJudgment(TimeStamped):
    """The verdict on one response to an attack: did the attack succeed, how severe, why.

    `severity` is the severity in the attack's own category (0–4), a column so rates and
    means aggregate in SQL; `severities` holds every category rated, the attack's included.
    """

    attack = models.ForeignKey(Attack, on_delete=models.CASCADE, related_name="judgments")
    candidate = models.OneToOneField(
        Candidate, on_delete=models.CASCADE, related_name="redteam_judgment"
    )
    judge = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    success = models.BooleanField()
    severity = models.PositiveSmallIntegerField()
    severities = models.JSONField(default=dict)
    rationale = models.TextField(blank=True)

    class Meta:
        ordering = ["candidate_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(severity__lte=SEVERITY_MAX), name="attempt_severity_range"
            ),
            # An attack that worked did some harm; one that failed may still be rated > 0
            # in passing, but a success rated 0 in its own category is a contradiction.
            models.CheckConstraint(
                condition=Q(success=False) | Q(severity__gte=1), name="attempt_success_severe"
            ),
        ]

    def __str__(self) -> str:
        return f"judgment of candidate {self.candidate_id}"


class RedTeamSettings(models.Model):
    """The endpoints new attacks go to automatically (none: the lead starts generation)."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="redteam")
    endpoints = models.ManyToManyField(ModelEndpoint, blank=True, related_name="+")
    samples_per_endpoint = models.PositiveSmallIntegerField(default=1)

    def __str__(self) -> str:
        return f"red-team settings of {self.project}"


class Promotion(TimeStamped):
    """An attack copied into a preference project: harmful response vs a safe one."""

    attack = models.ForeignKey(Attack, on_delete=models.CASCADE, related_name="promotions")
    target = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="+")
    harmful = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="+")
    safe = models.ForeignKey(
        Candidate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    item = models.ForeignKey(
        "judging.Item", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["attack", "target"], name="promotion_unique")
        ]


class RedTeamExport(TimeStamped):
    """One versioned red-team attempts dataset (JSONL or Parquet, card, manifest)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="redteam_exports")
    version = models.PositiveIntegerField()
    file_type = models.CharField(max_length=16)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Storage folder and [{name, split, rows, bytes, sha256}], the same shape as Export's, so
    # labeling/datasets/archive.py streams it as one .tar.
    folder = models.CharField(max_length=255)
    files = models.JSONField(default=list)
    counts = models.JSONField(default=dict)
    # A deletion request in the project withdrew this export: no longer downloadable, and
    # its files are deleted at once.
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["project", "version"], name="redteam_export_version")
        ]

    def __str__(self) -> str:
        return f"{self.project.slug} red-team v{self.version}"

    @property
    def rows_total(self) -> int:
        return sum(f.get("rows", 0) for f in self.files if f.get("split"))
