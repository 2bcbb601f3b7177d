import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from labeling.core.models import TimeStamped
from labeling.projects.models import Candidate, Dimension, Project, Prompt
from labeling.projects.taxonomy import SCALE_MAX, SCALE_MIN


class Queue(TimeStamped):
    """A stream of items inside a project with its own overlap, priority and audience."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="queues")
    name = models.CharField(max_length=120)
    is_default = models.BooleanField(default=False)
    overlap = models.PositiveSmallIntegerField(default=1, help_text="Distinct trainers per item.")
    priority = models.SmallIntegerField(default=0, help_text="Higher queues are served first.")
    is_paused = models.BooleanField(default=False)
    restricted = models.BooleanField(
        default=False, help_text="Only the chosen trainers receive this queue's items."
    )
    trainers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")

    class Meta:
        ordering = ["-priority", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="queue_name_unique"),
            models.UniqueConstraint(
                fields=["project"], condition=Q(is_default=True), name="queue_one_default"
            ),
            models.CheckConstraint(condition=Q(overlap__gte=1), name="queue_overlap_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class Item(TimeStamped):
    """One judgment unit: a prompt and 2..9 of its candidates.

    `n_judgments`, `n_leases` and `open_slots` (= the queue's overlap minus both) are kept
    up to date under the item's row lock by every service that changes them, so the claim
    query reads one indexed column instead of counting assignments.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="items")
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="items")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="items")
    candidates = models.ManyToManyField(Candidate, through="ItemCandidate", related_name="items")
    priority = models.SmallIntegerField(default=0)
    # Union of the candidates' harm categories: routes the item to opted-in trainers only.
    harm_mask = models.IntegerField(default=0)
    n_judgments = models.PositiveIntegerField(default=0)
    n_leases = models.PositiveIntegerField(default=0)
    open_slots = models.IntegerField(default=1)
    # Gold items carry the expected answer; they are exempt from overlap and from exports.
    is_gold = models.BooleanField(default=False)
    gold_answer = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                "queue",
                models.F("priority").desc(),
                "open_slots",
                "id",
                condition=Q(open_slots__gt=0, is_gold=False),
                name="item_claim_idx",
            ),
            models.Index(fields=["project", "is_gold"], name="item_project_gold"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(open_slots__gte=0), name="item_open_slots_sane")
        ]

    def __str__(self) -> str:
        return f"item {self.pk}"


class ItemCandidate(models.Model):
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="slots")
    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="+")
    slot = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["slot"]
        constraints = [
            models.UniqueConstraint(fields=["item", "slot"], name="item_slot_unique"),
            models.UniqueConstraint(fields=["item", "candidate"], name="item_candidate_unique"),
        ]


class Assignment(TimeStamped):
    """An item handed to one trainer under a lease. One per (item, trainer), ever."""

    class Status(models.TextChoices):
        LEASED = "leased", "Leased"
        SUBMITTED = "submitted", "Submitted"
        SKIPPED = "skipped", "Skipped"
        EXPIRED = "expired", "Expired"
        RELEASED = "released", "Released"
        RETURNED = "returned", "Returned for revision"

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="assignments")
    trainer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.LEASED)
    lease_expires_at = models.DateTimeField()
    # Candidate ids in the order this trainer saw them, left to right / top to bottom.
    display_order = models.JSONField()
    finished_at = models.DateTimeField(null=True, blank=True)
    skip_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "trainer"], name="assignment_item_trainer")
        ]
        indexes = [
            models.Index(fields=["item", "status"], name="assignment_item_status"),
            # Also serves (trainer, status): the trainer's open work.
            models.Index(
                fields=["trainer", "status", "finished_at"], name="assignment_trainer_done"
            ),
        ]

    def __str__(self) -> str:
        return f"assignment {self.code}"

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.LEASED, self.Status.RETURNED)


class Judgment(TimeStamped):
    """A trainer's answer, stored against candidates, never screen positions.

    Pairwise: `preferred` (null for "about the same") and `strength` 0–3.
    Ranking: `ranking`, an ordered list of tie-groups of candidate ids, best first.
    """

    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="judgment")
    preferred = models.ForeignKey(
        Candidate, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    strength = models.PositiveSmallIntegerField(null=True, blank=True)
    ranking = models.JSONField(null=True, blank=True)
    all_bad = models.BooleanField(default=False)
    rationale = models.TextField(blank=True)
    time_spent_ms = models.PositiveIntegerField(default=0)
    shown_order = models.JSONField()
    guideline_version = models.PositiveIntegerField()
    # False for a late judgment (lease expired and the item was taken): stored and shown to
    # leads, but neither counted toward overlap nor exported by default.
    counts = models.BooleanField(default=True)
    # Set for judgments of gold items: did the answer match the expected one?
    gold_correct = models.BooleanField(null=True, blank=True)
    review_status = models.CharField(
        max_length=16,
        choices=[("", "Not reviewed"), ("accepted", "Accepted"), ("returned", "Returned")],
        default="",
        blank=True,
    )
    review_comment = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["created_at"], name="judgment_created_idx")]
        constraints = [
            models.CheckConstraint(
                name="judgment_pairwise_or_ranking",
                condition=(
                    Q(strength__isnull=True, preferred__isnull=True, ranking__isnull=False)
                    | Q(strength=0, preferred__isnull=True, ranking__isnull=True)
                    | Q(
                        strength__gte=1,
                        strength__lte=3,
                        preferred__isnull=False,
                        ranking__isnull=True,
                    )
                ),
            )
        ]

    def __str__(self) -> str:
        return f"judgment {self.pk}"


class JudgmentRevision(models.Model):
    """An earlier state of a judgment, kept when the trainer revises it."""

    judgment = models.ForeignKey(Judgment, on_delete=models.CASCADE, related_name="revisions")
    snapshot = models.JSONField()
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]


class Notice(models.Model):
    """Something a project's leads should see (e.g. a trainer paused for gold accuracy)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="notices")
    text = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]


class Score(models.Model):
    judgment = models.ForeignKey(Judgment, on_delete=models.CASCADE, related_name="scores")
    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="+")
    dimension = models.ForeignKey(Dimension, on_delete=models.PROTECT, related_name="+")
    value = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["judgment", "candidate", "dimension"], name="score_unique"
            ),
            models.CheckConstraint(
                condition=Q(value__gte=SCALE_MIN, value__lte=SCALE_MAX), name="score_in_scale"
            ),
        ]


class CandidateFlag(models.Model):
    """A flag a trainer ticked on one candidate, by its stable key."""

    judgment = models.ForeignKey(Judgment, on_delete=models.CASCADE, related_name="flags")
    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="+")
    key = models.SlugField(max_length=40)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["judgment", "candidate", "key"], name="flag_unique")
        ]


class TrainerDay(models.Model):
    """The lead dashboard's per-trainer counts for one day (in the project's time zone).

    Kept by `submit_judgment` and `skip_assignment` in their own transaction, so the
    dashboard adds up a few rows per trainer instead of aggregating every judgment;
    `rebuild_rollups` recomputes them from the judgments (migration, management command).
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    trainer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField()
    judgments = models.PositiveIntegerField(default=0)  # every judgment made (late, gold too)
    skipped = models.PositiveIntegerField(default=0)
    gold_answered = models.PositiveIntegerField(default=0)
    gold_correct = models.PositiveIntegerField(default=0)
    pairs_with_winner = models.PositiveIntegerField(default=0)
    first_shown_wins = models.PositiveIntegerField(default=0)
    flags = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "trainer", "day"], name="trainer_day_unique")
        ]


class TrainerSeconds(models.Model):
    """How many of a trainer's judgments took each whole number of seconds (for the median)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    trainer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    seconds = models.PositiveIntegerField()
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "trainer", "seconds"], name="trainer_seconds_unique"
            )
        ]


class QueueMinute(models.Model):
    """Judgments per queue and UTC minute: the dashboard's chart and recent pace."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="+")
    minute = models.DateTimeField()
    # A few rows per queue and minute (by trainer), so concurrent submits rarely wait on one.
    shard = models.PositiveSmallIntegerField(default=0)
    judgments = models.PositiveIntegerField(default=0)  # every judgment (the chart)
    counted = models.PositiveIntegerField(default=0)  # counted, non-gold (the pace)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["queue", "minute", "shard"], name="queue_minute_unique")
        ]
        indexes = [models.Index(fields=["project", "minute"], name="queue_minute_project")]


__all__ = [
    "Assignment",
    "CandidateFlag",
    "Item",
    "ItemCandidate",
    "Judgment",
    "QueueMinute",
    "Score",
    "TrainerDay",
    "TrainerSeconds",
]
