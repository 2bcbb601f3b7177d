from django.conf import settings
from django.db import models
from django.db.models import Q

from labeling.core.models import TimeStamped

from .taxonomy import SCALE_MAX, SCALE_MIN


class Project(TimeStamped):
    class Mode(models.TextChoices):
        PAIRWISE = "pairwise", "Pairwise (A vs B)"
        RANKING = "ranking", "Ranking (K responses)"

    class Kind(models.TextChoices):
        PREFERENCE = "preference", "Preference labeling"
        RED_TEAM = "red_team", "Red team (trainers write attacks)"

    class RationalePolicy(models.TextChoices):
        OPTIONAL = "optional", "Optional"
        REQUIRED = "required", "Always required"
        ON_HARM = "on_harm", "Required when a harm flag is ticked"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.PAIRWISE)
    # Chosen at creation and fixed: a red-team project's trainers write attacks and judge
    # their responses (labeling/redteam) instead of comparing responses in queues.
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PREFERENCE)
    guidelines = models.TextField(blank=True, help_text="Markdown, shown to trainers.")
    guidelines_version = models.PositiveIntegerField(default=1)
    # Bumped by every change of the dimensions or flags (projects.services.set_dimensions /
    # set_flags), so the labeling pages can keep a project's rubric in memory between requests.
    rubric_version = models.PositiveIntegerField(default=1, editable=False)
    scores_required = models.BooleanField(
        default=True, help_text="Trainers must score every response on every dimension."
    )
    rationale_policy = models.CharField(
        max_length=16, choices=RationalePolicy.choices, default=RationalePolicy.ON_HARM
    )
    overlap = models.PositiveSmallIntegerField(default=1, help_text="Trainers per item.")
    lease_minutes = models.PositiveIntegerField(default=30)
    daily_cap = models.PositiveIntegerField(
        null=True, blank=True, help_text="Judgments per trainer per day; empty for no cap."
    )
    time_zone = models.CharField(max_length=64, default="UTC", help_text="Where a 'day' ends.")
    # Gold items: how often they are mixed in, and when a trainer is paused for missing them.
    gold_rate = models.FloatField(default=0.1)
    gold_window = models.PositiveSmallIntegerField(default=10)
    gold_min_accuracy = models.FloatField(default=0.7)
    # Qualification: a new trainer answers this many gold items first and needs `pass` right.
    qualification_size = models.PositiveSmallIntegerField(default=0)
    qualification_pass = models.PositiveSmallIntegerField(default=0)
    # Wellbeing: shown and accepted before a trainer's first item; a daily cap on harmful items.
    content_notice = models.TextField(
        blank=True,
        default=(
            "Some responses in this project may contain offensive, disturbing or harmful "
            "content. Content flagged as harmful is hidden behind a warning until you choose "
            "to reveal it. You can skip any item and stop at any time."
        ),
    )
    harm_exposure_cap = models.PositiveIntegerField(
        null=True, blank=True, help_text="Harmful items per trainer per day; empty for no cap."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(overlap__gte=1), name="project_overlap_positive"),
            models.CheckConstraint(
                condition=Q(lease_minutes__gte=1), name="project_lease_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def active_dimensions(self):
        return self.dimensions.filter(is_active=True)

    def rubric(self) -> tuple[list, list]:
        """The active dimensions and the flags, read once per instance (i.e. per request)."""
        if not hasattr(self, "_rubric"):
            self._rubric = (list(self.active_dimensions()), list(self.flags.all()))
        return self._rubric

    @property
    def is_red_team(self) -> bool:
        return self.kind == self.Kind.RED_TEAM

    @property
    def max_candidates(self) -> int:
        return 2 if self.mode == self.Mode.PAIRWISE else 9


class GuidelineRevision(models.Model):
    """Every version of a project's guidelines, so a judgment's version can be read back."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="revisions")
    version = models.PositiveIntegerField()
    text = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "version"], name="guideline_version_unique")
        ]


class Membership(TimeStamped):
    class Role(models.TextChoices):
        TRAINER = "trainer", "Trainer"
        LEAD = "lead", "Lead"
        RESEARCHER = "researcher", "Researcher"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    daily_cap = models.PositiveIntegerField(
        null=True, blank=True, help_text="Overrides the project's daily cap for this trainer."
    )
    is_paused = models.BooleanField(default=False)
    paused_reason = models.CharField(max_length=300, blank=True)
    qualified_at = models.DateTimeField(null=True, blank=True)
    qualification_failed_at = models.DateTimeField(null=True, blank=True)
    notice_accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.role} · {self.project}"


class Dimension(models.Model):
    """One rubric dimension: a 1–7 scale with anchor texts the lead writes."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="dimensions")
    key = models.SlugField(max_length=40)
    name = models.CharField(max_length=80)
    description = models.CharField(max_length=300, blank=True)
    anchors = models.JSONField(default=dict, blank=True, help_text='{"1": "…", "4": "…", "7": "…"}')
    position = models.PositiveSmallIntegerField(default=0)
    # A dimension removed from the rubric after it was scored is archived, never deleted,
    # so no judgment loses its scores.
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "key"], name="dimension_key_unique")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def scale(self) -> range:
        return range(SCALE_MIN, SCALE_MAX + 1)

    def anchor_rows(self) -> list[tuple[int, str]]:
        return [(v, self.anchors.get(str(v), "")) for v in self.scale if self.anchors.get(str(v))]


class Flag(models.Model):
    """A flag a trainer can tick on a response: a base taxonomy id or a lead's own."""

    class Kind(models.TextChoices):
        HARM = "harm", "Harm"
        QUALITY = "quality", "Quality"
        CUSTOM = "custom", "Custom"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="flags")
    key = models.SlugField(max_length=40)
    label = models.CharField(max_length=80)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    description = models.CharField(max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["project", "key"], name="flag_key_unique")]

    def __str__(self) -> str:
        return self.key


class ImportBatch(TimeStamped):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="imports")
    filename = models.CharField(max_length=255)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    prompts_created = models.PositiveIntegerField(default=0)
    candidates_created = models.PositiveIntegerField(default=0)
    items_created = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)


class Prompt(TimeStamped):
    """A conversation ending in a user turn: [{"role", "content"}, …]."""

    class Consent(models.TextChoices):
        UNKNOWN = "unknown", "Unknown"
        GRANTED = "granted", "Granted"
        OPTED_OUT = "opted_out", "Opted out"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="prompts")
    messages = models.JSONField()
    # NULL (not "") for "none", so the partial unique constraint below ignores it.
    external_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    consent = models.CharField(max_length=16, choices=Consent.choices, default=Consent.UNKNOWN)
    metadata = models.JSONField(default=dict, blank=True)
    batch = models.ForeignKey(
        ImportBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="prompts"
    )
    # Never shown again (sexual content involving minors): leads see only metadata.
    quarantined_at = models.DateTimeField(null=True, blank=True)
    # Soft delete by a deletion request; purged for good after the retention window.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "external_id"],
                condition=Q(external_id__isnull=False),
                name="prompt_external_id_unique",
            )
        ]

    def __str__(self) -> str:
        return self.external_id or f"prompt {self.pk}"

    @property
    def last_user_text(self) -> str:
        return self.messages[-1]["content"] if self.messages else ""


class Candidate(TimeStamped):
    """A response to a prompt, imported or generated."""

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="candidates")
    text = models.TextField()
    model_name = models.CharField(max_length=200, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # Wellbeing categories this response was flagged with, by trainers or by screening.
    harm_mask = models.IntegerField(default=0)
    # Set for generated candidates: a hash of (prompt, endpoint, params, sample index).
    generation_key = models.CharField(max_length=64, null=True, blank=True, unique=True)

    def __str__(self) -> str:
        return f"candidate {self.pk}"
