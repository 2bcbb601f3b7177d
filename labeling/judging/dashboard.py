"""Selectors for the lead's dashboard: every figure is one grouped SQL aggregate.

Each function issues a fixed number of queries whatever the number of queues, trainers or
judgments, so the page costs the same with 3 trainers as with 300 (see the query-count test).
Per-trainer figures, the chart and the recent pace read the rollups that submit and skip keep
(`labeling.judging.rollups`), so they cost the same at 1,000 judgments as at 1,000,000; the
median time is taken from per-second counts (to the second).
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import (
    Count,
    F,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Greatest, TruncHour
from django.utils import timezone

from labeling.projects.models import Membership, Project
from labeling.projects.taxonomy import HARM_FLAG_KEYS

from . import rollups
from .models import (
    Assignment,
    CandidateFlag,
    Item,
    Judgment,
    Notice,
    Queue,
    QueueMinute,
    TrainerDay,
    TrainerSeconds,
)

# Throughput and ETA are read from this recent window.
THROUGHPUT_WINDOW = timedelta(hours=1)
CHART_HOURS = 24


# --- queues --------------------------------------------------------------------------------


@dataclass
class QueueRow:
    queue: Queue
    items: int = 0
    done: int = 0
    in_progress: int = 0
    remaining: int = 0
    judgments: int = 0
    judgments_left: int = 0
    per_hour: int = 0

    @property
    def eta_hours(self) -> float | None:
        """Hours to finish at the last hour's pace; None when nothing moved lately."""
        if not self.judgments_left:
            return 0.0
        if not self.per_hour:
            return None
        return self.judgments_left / self.per_hour

    @property
    def done_percent(self) -> int:
        return round(100 * self.done / self.items) if self.items else 0


@dataclass
class Activity:
    per_hour: dict[datetime, int]  # every judgment, by hour, for the chart
    per_queue: dict[int, int]  # counted non-gold judgments of the last hour, by queue


def recent_activity(project: Project, now: datetime, *, hours: int = CHART_HOURS) -> Activity:
    """The chart and the queues' pace from the per-minute rollup (one query, a few rows per
    queue and minute however many judgments). The pace counts whole minutes since an hour
    ago."""
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(hours=hours)
    since = rollups.minute_of(now - THROUGHPUT_WINDOW)
    rows = (
        QueueMinute.objects.filter(project=project, minute__gte=start)
        .annotate(hour=TruncHour("minute"))
        .values("hour", "queue_id")
        .annotate(n=Sum("judgments"), recent=Sum("counted", filter=Q(minute__gte=since)))
        .order_by()
    )
    activity = Activity(per_hour={}, per_queue={})
    for r in rows:
        activity.per_hour[r["hour"]] = activity.per_hour.get(r["hour"], 0) + r["n"]
        queue_id = r["queue_id"]
        activity.per_queue[queue_id] = activity.per_queue.get(queue_id, 0) + (r["recent"] or 0)
    return activity


def queue_rows(
    project: Project, now: datetime, recent: dict[int, int] | None = None
) -> list[QueueRow]:
    """Per queue: items done / in progress / not started, judgments left, recent pace.

    Gold items are exempt from progress counts. Two queries, plus one without `recent`.
    """
    queues = list(Queue.objects.filter(project=project).order_by("-priority", "id"))
    rows = {q.pk: QueueRow(queue=q) for q in queues}
    items = (
        Item.objects.filter(project=project, is_gold=False)
        .values("queue_id")
        .annotate(
            n=Count("id"),
            done=Count("id", filter=Q(n_judgments__gte=F("queue__overlap"))),
            started=Count(
                "id",
                filter=Q(n_judgments__lt=F("queue__overlap"))
                & (Q(n_judgments__gt=0) | Q(n_leases__gt=0)),
            ),
            judgments=Coalesce(Sum("n_judgments"), 0),
            left=Coalesce(Sum(Greatest(F("queue__overlap") - F("n_judgments"), Value(0))), 0),
        )
        .order_by()
    )
    for r in items:
        row = rows.get(r["queue_id"])
        if row is None:
            continue
        row.items, row.done, row.in_progress = r["n"], r["done"], r["started"]
        row.remaining = r["n"] - r["done"] - r["started"]
        row.judgments, row.judgments_left = r["judgments"], r["left"]
    if recent is None:
        recent = recent_activity(project, now).per_queue
    for queue_id, n in recent.items():
        row = rows.get(queue_id)
        if row is not None:
            row.per_hour = n
    return list(rows.values())


# --- trainers -------------------------------------------------------------------------------


@dataclass
class TrainerRow:
    membership: Membership
    today: int = 0
    total: int = 0
    median_seconds: float | None = None
    skipped: int = 0
    finished: int = 0
    gold_answered: int = 0
    gold_correct: int = 0
    pairs_with_winner: int = 0
    first_shown_wins: int = 0
    flags: int = 0
    open_leases: int = 0

    @property
    def user(self):
        return self.membership.user

    @property
    def skip_rate(self) -> float | None:
        return self.skipped / self.finished if self.finished else None

    @property
    def gold_accuracy(self) -> float | None:
        return self.gold_correct / self.gold_answered if self.gold_answered else None

    @property
    def position_bias(self) -> float | None:
        """Share of decided pairwise judgments won by the response shown first (left)."""
        if not self.pairs_with_winner:
            return None
        return self.first_shown_wins / self.pairs_with_winner


def trainer_rows(project: Project, now: datetime) -> list[TrainerRow]:
    """One row per trainer of the project with their day, pace, skips, gold and bias.

    Four queries, over the rollups (`labeling.judging.rollups`) and the open leases.
    """
    members = (
        Membership.objects.filter(project=project, role=Membership.Role.TRAINER)
        .select_related("user")
        .order_by("user__username")
    )
    rows = {m.user_id: TrainerRow(membership=m) for m in members}
    if not rows:
        return []
    today = rollups.local_day(project, now)
    sums = {f"sum_{name}": Sum(name) for name in rollups.DAY_COUNTERS}
    stats = (
        TrainerDay.objects.filter(project=project, trainer_id__in=list(rows))
        .values("trainer_id")
        .annotate(**sums, sum_today=Sum("judgments", filter=Q(day=today)))
        .order_by()
    )
    for s in stats:
        row = rows[s["trainer_id"]]
        row.total = s["sum_judgments"]
        row.today = s["sum_today"] or 0
        row.skipped = s["sum_skipped"]
        row.finished = s["sum_judgments"] + s["sum_skipped"]
        row.gold_answered, row.gold_correct = s["sum_gold_answered"], s["sum_gold_correct"]
        row.pairs_with_winner = s["sum_pairs_with_winner"]
        row.first_shown_wins = s["sum_first_shown_wins"]
        row.flags = s["sum_flags"]
    by_trainer: dict[int, list[tuple[int, int]]] = {}
    for trainer_id, seconds, n in (
        TrainerSeconds.objects.filter(project=project, trainer_id__in=list(rows), n__gt=0)
        .order_by("trainer_id", "seconds")
        .values_list("trainer_id", "seconds", "n")
    ):
        by_trainer.setdefault(trainer_id, []).append((seconds, n))
    for trainer_id, counts in by_trainer.items():
        rows[trainer_id].median_seconds = rollups.median_from_counts(counts)
    leases = (
        Assignment.objects.filter(
            item__project=project, trainer_id__in=list(rows), status=Assignment.Status.LEASED
        )
        .values("trainer_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    for r in leases:
        rows[r["trainer_id"]].open_leases = r["n"]
    return list(rows.values())


# --- flagged items, chart, notices ----------------------------------------------------------


@dataclass
class FlaggedItem:
    item_id: int
    prompt: str = ""
    keys: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.keys.values())


def harmful_items(project: Project, limit: int = 20) -> list[FlaggedItem]:
    """Items with a harm flag, most flagged first. Two queries."""
    per_key = (
        CandidateFlag.objects.filter(
            judgment__assignment__item__project=project, key__in=sorted(HARM_FLAG_KEYS)
        )
        .values("judgment__assignment__item_id", "key")
        .annotate(n=Count("id"))
        .order_by()
    )
    found: dict[int, FlaggedItem] = {}
    for r in per_key:
        item_id = r["judgment__assignment__item_id"]
        found.setdefault(item_id, FlaggedItem(item_id=item_id)).keys[r["key"]] = r["n"]
    top = sorted(found.values(), key=lambda f: (-f.total, -f.item_id))[:limit]
    prompts = dict(
        Item.objects.filter(pk__in=[f.item_id for f in top]).values_list("pk", "prompt__messages")
    )
    for f in top:
        messages = prompts.get(f.item_id) or []
        f.prompt = messages[-1]["content"] if messages else ""
    return top


@dataclass
class Bar:
    hour: datetime
    count: int
    x: int = 0
    y: int = 0
    height: int = 0


@dataclass
class Chart:
    bars: list[Bar]
    peak: int
    width: int
    height: int
    bar_width: int


def hourly_chart(
    project: Project,
    now: datetime,
    *,
    hours: int = CHART_HOURS,
    counts: dict[datetime, int] | None = None,
) -> Chart:
    """Judgments per hour over the last `hours`, laid out for a server-rendered SVG."""
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(hours=hours)
    if counts is None:
        counts = recent_activity(project, now, hours=hours).per_hour
    plot_height, bar_width, gap = 100, 28, 6
    peak = max(counts.values(), default=0)
    bars = []
    for i in range(hours):
        hour = start + timedelta(hours=i)
        n = counts.get(hour, 0)
        h = round(plot_height * n / peak) if peak else 0
        if n and not h:
            h = 1
        bars.append(Bar(hour=hour, count=n, x=i * (bar_width + gap), y=plot_height - h, height=h))
    return Chart(
        bars=bars,
        peak=peak,
        width=hours * (bar_width + gap),
        height=plot_height,
        bar_width=bar_width,
    )


@dataclass
class Dashboard:
    queues: list[QueueRow]
    trainers: list[TrainerRow]
    harmful: list[FlaggedItem]
    chart: Chart
    notices: list[Notice]
    now: datetime
    outdated: int = 0

    @property
    def totals(self) -> QueueRow:
        total = QueueRow(queue=None)  # type: ignore[arg-type]
        for q in self.queues:
            for name in ("items", "done", "in_progress", "remaining", "judgments"):
                setattr(total, name, getattr(total, name) + getattr(q, name))
            total.judgments_left += q.judgments_left
            total.per_hour += q.per_hour
        return total


def outdated_judgments(project: Project) -> int:
    """Counted judgments made under an older version of the guidelines."""
    if project.guidelines_version <= 1:
        return 0  # nothing can be older than the first version: no query
    return Judgment.objects.filter(
        assignment__item__project=project,
        assignment__status=Assignment.Status.SUBMITTED,
        guideline_version__lt=project.guidelines_version,
        counts=True,
    ).count()


def project_dashboard(project: Project, now: datetime | None = None) -> Dashboard:
    """Everything the dashboard shows, in a fixed number of queries."""
    now = now or timezone.now()
    activity = recent_activity(project, now)
    return Dashboard(
        queues=queue_rows(project, now, activity.per_queue),
        trainers=trainer_rows(project, now),
        harmful=harmful_items(project),
        chart=hourly_chart(project, now, counts=activity.per_hour),
        notices=list(Notice.objects.filter(project=project)[:5]),
        now=now,
        outdated=outdated_judgments(project),
    )


__all__ = [
    "Dashboard",
    "harmful_items",
    "hourly_chart",
    "project_dashboard",
    "queue_rows",
    "trainer_rows",
]
