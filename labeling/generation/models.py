"""Model endpoints, generation jobs and their units (prompt × endpoint × params × sample)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from labeling.core.models import TimeStamped
from labeling.projects.models import Candidate, ImportBatch, Project, Prompt


class ModelEndpoint(TimeStamped):
    """Where candidates come from: an OpenAI-compatible server or the embedded model.

    The API key is never stored: only the name of the environment variable holding it,
    read by the worker at call time.
    """

    class Kind(models.TextChoices):
        OPENAI = "openai", "OpenAI-compatible Chat Completions"
        LOCAL = "local", "Embedded local model (SmolLM2-135M-Instruct)"

    # Null: a shared endpoint an admin registered, usable by every project.
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="endpoints"
    )
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.OPENAI)
    base_url = models.CharField(
        max_length=300, blank=True, help_text="e.g. http://127.0.0.1:8080/v1 (not for local)"
    )
    model = models.CharField(max_length=200, blank=True, help_text="The model name to request.")
    api_key_env = models.CharField(
        "API key variable",
        max_length=100,
        blank=True,
        help_text="Name of the environment variable holding the key, e.g. MODEL_KEY_OPENAI.",
    )
    system_prompt = models.TextField(blank=True)
    temperature = models.FloatField(default=0.8)
    top_p = models.FloatField(default=0.95)
    max_tokens = models.PositiveIntegerField(default=256)
    supports_seed = models.BooleanField(
        default=True, help_text="Send a seed derived from the unit's key (if the server takes one)."
    )
    timeout_seconds = models.PositiveIntegerField(default=60)
    max_concurrency = models.PositiveSmallIntegerField(
        default=4, help_text="Requests in flight to this endpoint, across all workers."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_concurrency__gte=1), name="endpoint_concurrency_positive"
            ),
            models.CheckConstraint(
                condition=Q(timeout_seconds__gte=1), name="endpoint_timeout_pos"
            ),
            models.CheckConstraint(condition=Q(max_tokens__gte=1), name="endpoint_max_tokens_pos"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_shared(self) -> bool:
        return self.project_id is None

    @property
    def display_model(self) -> str:
        return self.model or ("SmolLM2-135M-Instruct" if self.kind == self.Kind.LOCAL else "")

    def clean(self) -> None:
        from .validation import validate_endpoint

        validate_endpoint(self)


class GenerationJob(TimeStamped):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    class Selection(models.TextChoices):
        ALL = "all", "All prompts"
        WITHOUT_CANDIDATES = "without_candidates", "Prompts without candidates"
        BATCH = "batch", "Prompts of one import"

    class Pairing(models.TextChoices):
        ALL_PAIRS = "all_pairs", "All pairs"
        RANDOM_PAIRS = "random_pairs", "Random pairs (n per prompt)"
        MODEL_PAIRS = "model_pairs", "One pair per model pair (A vs B)"
        K_WAY = "k_way", "One K-way item with all candidates"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="generation_jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    endpoints = models.ManyToManyField(ModelEndpoint, related_name="jobs")
    selection = models.CharField(max_length=24, choices=Selection.choices, default=Selection.ALL)
    batch = models.ForeignKey(ImportBatch, null=True, blank=True, on_delete=models.SET_NULL)
    contains = models.CharField(max_length=200, blank=True)
    samples_per_endpoint = models.PositiveSmallIntegerField(default=1)
    # Each entry is one set of parameter overrides, e.g. [{"temperature": 0.2}, {"temperature": 1}].
    variants = models.JSONField(default=list, blank=True)
    pairing = models.CharField(max_length=16, choices=Pairing.choices, default=Pairing.ALL_PAIRS)
    pairs_per_prompt = models.PositiveSmallIntegerField(default=1)
    units_total = models.PositiveIntegerField(default=0)
    items_created = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"generation job {self.pk}"


class GenerationUnit(TimeStamped):
    """One call to make: a prompt, an endpoint, the exact parameters and a sample index.

    `key` is a hash of those four; the candidate it makes carries the same key as its
    `generation_key`, unique in the database, so a unit that runs twice is stored once.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINAL = (Status.DONE, Status.FAILED, Status.CANCELLED)

    job = models.ForeignKey(GenerationJob, on_delete=models.CASCADE, related_name="units")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(ModelEndpoint, on_delete=models.PROTECT, related_name="+")
    sample_index = models.PositiveSmallIntegerField(default=0)
    params = models.JSONField(help_text="Every parameter sent, seed included.")
    key = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    # A running unit belongs to whoever claimed it until this time; after it, a redelivered
    # message may claim it again (the first worker died).
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    error_status = models.PositiveSmallIntegerField(null=True, blank=True)
    candidate = models.ForeignKey(
        Candidate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "key"], name="generation_unit_key_unique")
        ]
        indexes = [
            models.Index(fields=["job", "status"], name="generation_unit_job_status"),
            models.Index(fields=["job", "prompt"], name="generation_unit_job_prompt"),
        ]

    def __str__(self) -> str:
        return f"unit {self.pk} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL


class JobPrompt(models.Model):
    """A prompt of a job; `paired_at` is set once its items are built (the claim to build them)."""

    job = models.ForeignKey(GenerationJob, on_delete=models.CASCADE, related_name="job_prompts")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="+")
    paired_at = models.DateTimeField(null=True, blank=True)
    items_created = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "prompt"], name="job_prompt_unique")]

    def __str__(self) -> str:
        return f"job {self.job_id} · prompt {self.prompt_id}"


# The OpenAI moderation categories and the taxonomy key each one feeds by default. A lead
# may change the mapping per project; a category mapped to "" is recorded but not acted on.
DEFAULT_CATEGORY_MAP: dict[str, str] = {
    "hate": "hate",
    "hate/threatening": "hate",
    "harassment": "harassment",
    "harassment/threatening": "harassment",
    "self-harm": "self_harm",
    "self-harm/intent": "self_harm",
    "self-harm/instructions": "self_harm",
    "sexual": "sexual",
    "sexual/minors": "sexual_minors",
    "violence": "violence",
    "violence/graphic": "violence",
    "illicit": "illicit",
    "illicit/violent": "illicit",
}


def default_category_map() -> dict[str, str]:
    return dict(DEFAULT_CATEGORY_MAP)


class ModerationEndpoint(TimeStamped):
    """A project's screening server: anything speaking the OpenAI moderation API.

    Like a model endpoint, the key is never stored, only the `MODEL_KEY_…` variable naming it,
    and the base URL must point to an allowed host; both are checked again before every call.
    """

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="moderation")
    base_url = models.CharField(
        "base URL",
        max_length=300,
        help_text="e.g. https://api.openai.com/v1 (POST {base}/moderations)",
    )
    model = models.CharField(max_length=200, blank=True, help_text="e.g. omni-moderation-latest")
    api_key_env = models.CharField(
        "API key variable",
        max_length=100,
        blank=True,
        help_text="Name of the environment variable holding the key, e.g. MODEL_KEY_OPENAI.",
    )
    timeout_seconds = models.PositiveIntegerField(default=30)
    threshold = models.FloatField(
        default=0.5, help_text="A category counts as harmful from this score up (0–1)."
    )
    category_map = models.JSONField(
        default=default_category_map,
        blank=True,
        help_text='Moderation category → taxonomy key, e.g. {"hate": "hate"}.',
    )
    screen_generated = models.BooleanField(
        default=True, help_text="Screen every candidate right after it is generated."
    )
    # Items with a screened-harmful candidate move here (a restricted queue, typically).
    route_to_queue = models.ForeignKey(
        "judging.Queue", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(threshold__gte=0, threshold__lte=1), name="moderation_threshold_0_1"
            ),
            models.CheckConstraint(
                condition=Q(timeout_seconds__gte=1), name="moderation_timeout_pos"
            ),
        ]

    def __str__(self) -> str:
        return f"moderation of {self.project}"

    def clean(self) -> None:
        from .validation import validate_moderation

        validate_moderation(self)


class CandidateScreening(TimeStamped):
    """A candidate's screening by the project's moderation endpoint: at most one per candidate.

    `categories` are the taxonomy keys the scores put at or above the threshold (what the
    candidate was marked with); `scores` are the server's raw category scores.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    candidate = models.OneToOneField(Candidate, on_delete=models.CASCADE, related_name="screening")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    flagged = models.BooleanField(default=False)
    categories = models.JSONField(default=list, blank=True)
    scores = models.JSONField(default=dict, blank=True)
    server_flagged = models.BooleanField(null=True, blank=True)
    model = models.CharField(max_length=200, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    error_status = models.PositiveSmallIntegerField(null=True, blank=True)
    screened_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status"], name="screening_status")]

    def __str__(self) -> str:
        return f"screening of candidate {self.candidate_id} ({self.status})"

    @property
    def summary(self) -> str:
        """'screened: flagged hate 0.93', 'screened: clean', 'screening failed: …'."""
        if self.status == self.Status.DONE:
            if not self.flagged:
                return "screened: clean"
            over = sorted(
                ((k, v) for k, v in self.scores.items() if v >= (self.threshold or 0)),
                key=lambda kv: -kv[1],
            )
            return "screened: flagged " + ", ".join(f"{k} {v:.2f}" for k, v in over[:3])
        if self.status == self.Status.FAILED:
            return f"screening failed: {self.error}"
        return "screening…"
