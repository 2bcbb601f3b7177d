"""The lead dashboard's rollups, kept by every judgment and skip in the same transaction.

`TrainerDay` (per project, trainer and local day), `TrainerSeconds` (per project, trainer and
whole seconds spent: the median) and `QueueMinute` (per queue and UTC minute, a few shards:
the chart and the recent pace) turn the dashboard's aggregates over every judgment into sums
over a few rows per trainer and minute. Each write is one `INSERT … ON CONFLICT DO UPDATE`
(PostgreSQL and SQLite alike). `rebuild_rollups` recomputes them from the judgments and
skips, for data written before the rollups existed or changed behind the services' back.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import F

from labeling.projects.models import Project

from .models import Assignment, CandidateFlag, Judgment, QueueMinute, TrainerDay, TrainerSeconds

SHARDS = 16
DAY_COUNTERS = (
    "judgments",
    "skipped",
    "gold_answered",
    "gold_correct",
    "pairs_with_winner",
    "first_shown_wins",
    "flags",
)


@dataclass(frozen=True)
class Contribution:
    """What one judgment's answer adds to its trainer's counts (a revision may change it)."""

    pairs_with_winner: int
    first_shown_wins: int
    flags: int
    seconds: int


def contribution(
    *, preferred_id: int | None, shown_order: list, n_flags: int, time_spent_ms: int
) -> Contribution:
    won = preferred_id is not None
    return Contribution(
        pairs_with_winner=int(won),
        first_shown_wins=int(won and bool(shown_order) and shown_order[0] == preferred_id),
        flags=n_flags,
        seconds=time_spent_ms // 1000,
    )


def local_day(project: Project, moment: datetime) -> date:
    """The day `moment` falls on in the project's time zone."""
    return moment.astimezone(ZoneInfo(project.time_zone)).date()


def minute_of(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


@lru_cache(maxsize=16)
def _upsert_sql(table: str, keys: tuple[str, ...], fixed: tuple[str, ...], adds: tuple[str, ...]):
    qn = connection.ops.quote_name
    cols = [*keys, *fixed, *adds]
    sets = ", ".join(f"{qn(c)} = {qn(table)}.{qn(c)} + EXCLUDED.{qn(c)}" for c in adds)
    return (
        f"INSERT INTO {qn(table)} ({', '.join(map(qn, cols))}) "
        f"VALUES ({', '.join(['%s'] * len(cols))}) "
        f"ON CONFLICT ({', '.join(map(qn, keys))}) DO UPDATE SET {sets}"
    )


def _upsert(model, keys: dict, adds: dict, fixed: dict | None = None) -> tuple[str, list]:
    fixed = fixed or {}
    sql = _upsert_sql(model._meta.db_table, tuple(keys), tuple(fixed), tuple(adds))
    return sql, [*keys.values(), *fixed.values(), *adds.values()]


def _add(cursor, model, keys: dict, adds: dict, fixed: dict | None = None) -> None:
    cursor.execute(*_upsert(model, keys, adds, fixed))


def _run_all(cursor, statements: list[tuple[str, list]]) -> None:
    """Run upserts: one round trip on PostgreSQL (a data-modifying WITH), else in turn."""
    if connection.vendor != "postgresql":
        for sql, params in statements:
            cursor.execute(sql, params)
        return
    *first, (last_sql, last_params) = statements
    with_sql = ", ".join(f"u{i} AS ({sql})" for i, (sql, _) in enumerate(first))
    params = [p for _, ps in first for p in ps] + last_params
    cursor.execute(f"WITH {with_sql} {last_sql}", params)


def tally_judgment(
    *,
    project_id: int,
    time_zone: str,
    trainer_id: int,
    queue_id: int,
    now: datetime,
    counts: bool,
    is_gold: bool,
    gold_correct: bool | None,
    answer: Contribution,
) -> None:
    """Add a new judgment to the rollups (call inside the transaction that stores it)."""
    ops = connection.ops
    day = now.astimezone(ZoneInfo(time_zone)).date()
    statements = [
        _upsert(
            TrainerDay,
            {
                "project_id": project_id,
                "trainer_id": trainer_id,
                "day": ops.adapt_datefield_value(day),
            },
            {
                "judgments": 1,
                "gold_answered": int(gold_correct is not None),
                "gold_correct": int(bool(gold_correct)),
                "pairs_with_winner": answer.pairs_with_winner,
                "first_shown_wins": answer.first_shown_wins,
                "flags": answer.flags,
            },
            {"skipped": 0},
        ),
        _upsert(
            TrainerSeconds,
            {"project_id": project_id, "trainer_id": trainer_id, "seconds": answer.seconds},
            {"n": 1},
        ),
        _upsert(
            QueueMinute,
            {
                "queue_id": queue_id,
                "minute": ops.adapt_datetimefield_value(minute_of(now)),
                "shard": trainer_id % SHARDS,
            },
            {"judgments": 1, "counted": int(counts and not is_gold)},
            {"project_id": project_id},
        ),
    ]
    with connection.cursor() as cursor:
        _run_all(cursor, statements)


def tally_skip(*, project: Project, trainer_id: int, now: datetime) -> None:
    """Add a skip to the trainer's day."""
    day = connection.ops.adapt_datefield_value(local_day(project, now))
    zeros = {name: 0 for name in DAY_COUNTERS if name != "skipped"}
    with connection.cursor() as cursor:
        _add(
            cursor,
            TrainerDay,
            {"project_id": project.pk, "trainer_id": trainer_id, "day": day},
            {"skipped": 1},
            zeros,
        )


def tally_revision(
    *,
    project: Project,
    trainer_id: int,
    made_at: datetime,
    before: Contribution,
    after: Contribution,
) -> None:
    """Replace a revised judgment's old answer by its new one, on the day it was made."""
    changes = {
        name: F(name) + (getattr(after, name) - getattr(before, name))
        for name in ("pairs_with_winner", "first_shown_wins", "flags")
    }
    TrainerDay.objects.filter(
        project=project, trainer_id=trainer_id, day=local_day(project, made_at)
    ).update(**changes)
    if before.seconds != after.seconds:
        TrainerSeconds.objects.filter(
            project=project, trainer_id=trainer_id, seconds=before.seconds
        ).update(n=F("n") - 1)
        with connection.cursor() as cursor:
            _add(
                cursor,
                TrainerSeconds,
                {"project_id": project.pk, "trainer_id": trainer_id, "seconds": after.seconds},
                {"n": 1},
            )


@transaction.atomic
def rebuild_rollups(*, project: Project) -> int:
    """Recompute a project's rollups from its judgments and skips; returns judgments read."""
    # By id only: the migration passes its historical Project.
    for model in (TrainerDay, TrainerSeconds, QueueMinute):
        model.objects.filter(project_id=project.pk).delete()
    days: dict[tuple[int, date], dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(DAY_COUNTERS, 0)
    )
    seconds: dict[tuple[int, int], int] = defaultdict(int)
    minutes: dict[tuple[int, datetime, int], list[int]] = defaultdict(lambda: [0, 0])
    rows = Judgment.objects.filter(assignment__item__project_id=project.pk).values_list(
        "assignment__trainer_id",
        "created_at",
        "gold_correct",
        "preferred_id",
        "shown_order",
        "time_spent_ms",
        "counts",
        "assignment__item__is_gold",
        "assignment__item__queue_id",
    )
    n = 0
    for trainer_id, made, gold, preferred, shown, ms, counts, is_gold, queue_id in rows.iterator(
        chunk_size=10_000
    ):
        n += 1
        answer = contribution(
            preferred_id=preferred, shown_order=shown, n_flags=0, time_spent_ms=ms
        )
        day = days[trainer_id, local_day(project, made)]
        day["judgments"] += 1
        day["gold_answered"] += gold is not None
        day["gold_correct"] += bool(gold)
        day["pairs_with_winner"] += answer.pairs_with_winner
        day["first_shown_wins"] += answer.first_shown_wins
        seconds[trainer_id, answer.seconds] += 1
        minute = minutes[queue_id, minute_of(made), trainer_id % SHARDS]
        minute[0] += 1
        minute[1] += counts and not is_gold
    flags = CandidateFlag.objects.filter(judgment__assignment__item__project_id=project.pk)
    for trainer_id, made in flags.values_list(
        "judgment__assignment__trainer_id", "judgment__created_at"
    ).iterator(chunk_size=10_000):
        days[trainer_id, local_day(project, made)]["flags"] += 1
    skips = Assignment.objects.filter(
        item__project_id=project.pk, status=Assignment.Status.SKIPPED, finished_at__isnull=False
    )
    for trainer_id, finished in skips.values_list("trainer_id", "finished_at").iterator():
        days[trainer_id, local_day(project, finished)]["skipped"] += 1
    TrainerDay.objects.bulk_create(
        (TrainerDay(project_id=project.pk, trainer_id=t, day=d, **c) for (t, d), c in days.items()),
        batch_size=5000,
    )
    TrainerSeconds.objects.bulk_create(
        (
            TrainerSeconds(project_id=project.pk, trainer_id=t, seconds=s, n=c)
            for (t, s), c in seconds.items()
        ),
        batch_size=5000,
    )
    QueueMinute.objects.bulk_create(
        (
            QueueMinute(
                project_id=project.pk, queue_id=q, minute=m, shard=s, judgments=c[0], counted=c[1]
            )
            for (q, m, s), c in minutes.items()
        ),
        batch_size=5000,
    )
    return n


def median_from_counts(counts: list[tuple[int, int]]) -> float | None:
    """The median (as percentile_cont(0.5)) of values given as sorted (value, how many)."""
    total = sum(n for _, n in counts)
    if not total:
        return None
    position = (total - 1) / 2
    lower, upper = int(position), int(position) + (position % 1 > 0)
    seen, low_value, high_value = 0, None, None
    for value, n in counts:
        if low_value is None and seen + n > lower:
            low_value = value
        if seen + n > upper:
            high_value = value
            break
        seen += n
    return (low_value + high_value) / 2
