"""The assignment engine and the trainer's writes: claim, submit, skip, expire, release.

Counters on `Item` (`n_judgments`, `n_leases`, `open_slots`) change only here, always
under the item's row lock, in one lock order (assignment, then item), so concurrent claims
and submits can neither over-fill an item nor deadlock.
"""

import random
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from labeling.core import audit
from labeling.core.db import model_from_row, pipelined, select_columns
from labeling.projects.models import Candidate, Membership, Project, Prompt
from labeling.projects.taxonomy import HARM_BITS, QUARANTINE_KEY, harm_mask

from . import rollups
from .models import (
    Assignment,
    Item,
    ItemCandidate,
    Judgment,
    JudgmentRevision,
    Notice,
    Queue,
)

_random = random.SystemRandom()


LATE_JUDGMENT = (
    "Your lease on that item had expired and other trainers completed it meanwhile. Your "
    "judgment was kept as a late judgment for the lead; it does not count toward the item."
)


class AssignmentClosed(Exception):
    """The assignment can no longer take a judgment (it was skipped)."""


@dataclass(frozen=True)
class JudgmentInput:
    """A validated answer, already expressed in candidate ids (never screen positions)."""

    preferred_id: int | None = None
    strength: int | None = None
    ranking: list[list[int]] | None = None
    all_bad: bool = False
    scores: dict[tuple[int, int], int] = field(default_factory=dict)  # (candidate, dimension)
    flags: set[tuple[int, str]] = field(default_factory=set)  # (candidate, flag key)
    rationale: str = ""
    time_spent_ms: int = 0


# --- items and queues ---------------------------------------------------------------------


def default_queue(project: Project) -> Queue:
    """The project's main queue, created on first use with the project's overlap."""
    queue, _ = Queue.objects.get_or_create(
        project=project, is_default=True, defaults={"name": "Main", "overlap": project.overlap}
    )
    return queue


@transaction.atomic
def create_items(
    *,
    project: Project,
    groups: Sequence[tuple[int, Sequence[int]]],
    queue: Queue | None = None,
    priority: int = 0,
) -> list[Item]:
    """Create one item per (prompt id, candidate ids) group, in bulk, ready to be claimed."""
    queue = queue or default_queue(project)
    items = Item.objects.bulk_create(
        Item(
            project=project,
            queue=queue,
            prompt_id=prompt_id,
            priority=priority,
            open_slots=queue.overlap,
        )
        for prompt_id, _ in groups
    )
    ItemCandidate.objects.bulk_create(
        ItemCandidate(item_id=item.pk, candidate_id=cid, slot=slot)
        for item, (_, candidate_ids) in zip(items, groups, strict=True)
        for slot, cid in enumerate(candidate_ids)
    )
    return items


@transaction.atomic
def set_queue_overlap(*, queue: Queue, overlap: int) -> Queue:
    """Change how many trainers judge each item of a queue; open slots follow at once."""
    queue.overlap = overlap
    queue.save(update_fields=["overlap", "updated_at"])
    queue.items.filter(is_gold=False).select_for_update().update(
        open_slots=_clamped_open_slots(overlap)
    )
    return queue


def _clamped_open_slots(overlap: int):
    from django.db.models.functions import Greatest

    return Greatest(overlap - F("n_judgments") - F("n_leases"), 0)


# --- the trainer's day --------------------------------------------------------------------


def day_start(project: Project, now: datetime) -> datetime:
    """Midnight of `now`'s day in the project's time zone."""
    local = now.astimezone(ZoneInfo(project.time_zone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


# Today's count is the trainer's day row of the dashboard's rollups (one row by its unique
# key, however many they judged), kept by every submit in the same transaction: the number
# the trainer sees is the one the lead's dashboard shows. It counts judgments made today
# (late and gold ones too); a revision of an earlier judgment is not a new one.
_TODAY_SQL = """
SELECT COALESCE(SUM(d.judgments), 0) FROM judging_trainerday d
WHERE d.project_id = %s AND d.trainer_id = %s AND d.day = %s
"""


def judged_today_sql(trainer, project: Project, now: datetime) -> tuple[str, list]:
    day = rollups.local_day(project, now)
    return _TODAY_SQL, [project.pk, trainer.pk, connection.ops.adapt_datefield_value(day)]


def judged_today(trainer, project: Project, now: datetime | None = None) -> int:
    """The trainer's judgments in the project today (the project's time zone); on every
    labeling page, and against the daily cap on every claim."""
    with connection.cursor() as cursor:
        cursor.execute(*judged_today_sql(trainer, project, now or timezone.now()))
        return int(cursor.fetchone()[0])


def harmful_today(trainer, project: Project, now: datetime | None = None) -> int:
    """Items carrying a harm category handed to this trainer today (the exposure cap)."""
    now = now or timezone.now()
    return Assignment.objects.filter(
        trainer=trainer,
        item__project=project,
        item__harm_mask__gt=0,
        created_at__gte=day_start(project, now),
    ).count()


def daily_cap_of(membership: Membership) -> int | None:
    if membership.daily_cap is not None:
        return membership.daily_cap
    return membership.project.daily_cap


def needs_qualification(membership: Membership) -> bool:
    return bool(membership.project.qualification_size) and membership.qualified_at is None


def why_no_work(trainer, project: Project) -> str:
    """A sentence for the 'nothing for you' page when the reason is not an empty queue."""
    membership = Membership.objects.select_related("project").get(project=project, user=trainer)
    if membership.is_paused:
        return "Your work on this project is paused: " + (
            membership.paused_reason or "ask the lead."
        )
    if membership.qualification_failed_at:
        return "You did not pass this project's qualification."
    cap = daily_cap_of(membership)
    if cap is not None and judged_today(trainer, project) >= cap:
        return f"You reached today's cap of {cap} judgments for this project. Thank you!"
    exposure = project.harm_exposure_cap
    if exposure is not None and harmful_today(trainer, project) >= exposure:
        return (
            f"You reached today's limit of {exposure} items with harmful content; "
            "only other work is offered to you now, and none is left."
        )
    return ""


def notice_pending(*, user, membership: Membership) -> bool:
    """True until the trainer confirmed being 18+ and accepted this project's content notice."""
    return not (user.adult_confirmed_at and membership.notice_accepted_at)


@transaction.atomic
def accept_notice(*, user, membership: Membership) -> None:
    """Store the trainer's 18+ confirmation and their acceptance of the project's notice."""
    now = timezone.now()
    if user.adult_confirmed_at is None:
        user.adult_confirmed_at = now
        user.save(update_fields=["adult_confirmed_at"])
    membership.notice_accepted_at = now
    membership.save(update_fields=["notice_accepted_at", "updated_at"])


# --- claim ----------------------------------------------------------------------------------


def _lease_end(project: Project, now: datetime) -> datetime:
    return now + timedelta(minutes=project.lease_minutes)


def _display_order(item_id: int) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT candidate_id FROM judging_itemcandidate WHERE item_id = %s ORDER BY slot",
            [item_id],
        )
        order = [row[0] for row in cursor.fetchall()]
    _random.shuffle(order)
    return order


class _SameItemTwice(Exception):
    """The trainer's other tab leased this item a moment ago (the UNIQUE constraint held)."""


def _new_assignment(
    item_id: int, trainer, project: Project, now: datetime, *, order: list[int] | None = None
) -> Assignment:
    """Insert the lease in one statement (no ORM save machinery on the claim's hot path),
    showing the responses in `order` (by default a fresh shuffle of the item's)."""
    order = order if order is not None else _display_order(item_id)
    assignment = _unsaved_lease(trainer, project, now, item_id=item_id, order=order)
    sql, params = _insert_sql(assignment)
    sql = sql.replace(" RETURNING", " ON CONFLICT (item_id, trainer_id) DO NOTHING RETURNING")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        raise _SameItemTwice
    return _saved(assignment, row[0])


def _insert_sql(instance) -> tuple[str, list]:
    """`INSERT … RETURNING id` of an unsaved instance's every column, values prepared by its
    fields (what `save()` sends, without the ORM's machinery)."""
    meta = instance._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    params = [f.get_db_prep_save(getattr(instance, f.attname), connection) for f in fields]
    sql = (
        f"INSERT INTO {meta.db_table} ({', '.join(f.column for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING id"
    )
    return sql, params


def _for_update(of: str, *, skip_locked: bool = False, no_key: bool = False) -> str:
    """The row-lock clause where the database has row locks (SQLite serializes writers).
    `no_key`: the row's key stays as it is (FOR NO KEY UPDATE, what an UPDATE of other
    columns takes): claimers still exclude each other, while a transaction inserting a row
    that references it (its foreign-key check) does not wait."""
    if not connection.features.has_select_for_update:
        return ""
    strength = "NO KEY UPDATE" if no_key else "UPDATE"
    return f" FOR {strength} OF {of}" + (" SKIP LOCKED" if skip_locked else "")


_RESUME_SQL = """
SELECT {columns} FROM judging_assignment a JOIN judging_item i ON i.id = a.item_id
WHERE a.trainer_id = %s AND i.project_id = %s AND a.status IN (%s, %s)
ORDER BY a.created_at LIMIT 1{lock}
"""


def _renewed(own: Assignment, project: Project, now: datetime) -> Assignment:
    """The trainer's own open lease or returned judgment, renewed if it lapsed unswept."""
    if own.status == Assignment.Status.RETURNED or own.lease_expires_at <= now:
        # A lapsed lease that the sweep has not reclaimed still holds its slot: renew it.
        own.lease_expires_at = _lease_end(project, now)
        own.save(update_fields=["lease_expires_at", "updated_at"])
    return own


_MEMBERSHIP_SQL = (
    "SELECT {columns} FROM projects_membership m WHERE m.project_id = %s AND m.user_id = %s"
)


class _TrainerState:
    """What a claim starts from: the trainer's own open lease or returned judgment (locked),
    their membership, and the ids of the open queues they may draw from, highest priority
    first. Three reads in one round trip; a submit sends them with its writes (`send` inside
    the submit's pipeline), so that the claim after it waits for none of them."""

    def __init__(self, trainer, project: Project):
        self.trainer, self.project = trainer, project
        self._cursors = None

    def send(self) -> None:
        """Send the reads (inside a `pipelined()` block, or on their own)."""
        own, member, queue = self._cursors = [connection.cursor() for _ in range(3)]
        trainer, project = self.trainer, self.project
        own.execute(
            _RESUME_SQL.format(columns=select_columns(Assignment, "a"), lock=_for_update("a")),
            [trainer.pk, project.pk, Assignment.Status.LEASED, Assignment.Status.RETURNED],
        )
        member.execute(
            _MEMBERSHIP_SQL.format(columns=select_columns(Membership, "m")),
            [project.pk, trainer.pk],
        )
        queue.execute(_QUEUES_SQL, [project.pk, trainer.pk])

    def read(self) -> tuple[Assignment | None, Membership, list[int]]:
        if self._cursors is None:
            with pipelined():
                self.send()
        own_cur, member_cur, queue_cur = self._cursors
        try:
            own_row, member_row = own_cur.fetchone(), member_cur.fetchone()
            queues = [row[0] for row in queue_cur.fetchall()]
        finally:
            for cursor in self._cursors:
                cursor.close()
            self._cursors = None
        if member_row is None:
            raise Membership.DoesNotExist("The trainer is not a member of this project")
        membership = model_from_row(Membership, "m", member_row, 0)
        membership.project = self.project
        own = model_from_row(Assignment, "a", own_row, 0) if own_row is not None else None
        return own, membership, queues


def _readable(items, allowed_mask: int):
    """Only items whose content flags all lie within what the trainer may read."""
    return items.alias(blocked=F("harm_mask").bitand(~allowed_mask)).filter(blocked=0)


def _claim_gold(trainer, project: Project, now: datetime, allowed_mask: int) -> Assignment | None:
    item_id = (
        _readable(Item.objects.filter(project=project, is_gold=True), allowed_mask)
        .exclude(assignments__trainer=trainer)
        .order_by("?")
        .values_list("id", flat=True)
        .first()
    )
    if item_id is None:
        return None
    return _new_assignment(item_id, trainer, project, now)


# The best open item of one queue, locked (rows others hold are skipped), taken in one
# statement. PostgreSQL re-checks `open_slots > 0` on the locked row's newest version; the
# CHECK constraint on open_slots is the backstop. SQLite serializes writers instead (BEGIN
# IMMEDIATE), so it needs no row lock.
# Items i of the queue(s) the trainer may still take: open, not gold, readable for them
# (no content flag outside their opt-ins), not judged or skipped by them.
_OPEN_FOR_TRAINER = """i.queue_id {queues} AND i.open_slots > 0 AND NOT i.is_gold
    AND (i.harm_mask & %s) = 0 AND NOT EXISTS (
        SELECT 1 FROM judging_assignment a WHERE a.item_id = i.id AND a.trainer_id = %s)"""
_CLAIM_SQL = f"""
UPDATE judging_item SET open_slots = open_slots - 1, n_leases = n_leases + 1
WHERE open_slots > 0 AND id = (
    SELECT i.id FROM judging_item i WHERE {_OPEN_FOR_TRAINER.format(queues="= %s")}
    ORDER BY i.priority DESC, i.open_slots, i.id
    LIMIT 1{{lock}})
RETURNING {{returning}}
"""

# Where the claim is two statements (SQLite), the claim returns the item's responses in
# slot order as comma-separated text.
_SQLITE_CANDIDATES = (
    "(SELECT group_concat(candidate_id) FROM (SELECT c.candidate_id "
    "FROM judging_itemcandidate c WHERE c.item_id = judging_item.id ORDER BY c.slot))"
)


# PostgreSQL takes the slot and inserts the lease in one statement (one round trip less
# on every claim): the item's responses are shuffled there (`ORDER BY random()`), and the
# lease names the item the UPDATE returned. If the trainer's other tab leased the same item
# a moment ago, the INSERT does nothing and `lease_id` comes back empty.
_CLAIM_AND_LEASE_SQL = f"""
WITH claimed AS ({_CLAIM_SQL.replace("{returning}", "id")}),
shown AS (
    SELECT claimed.id AS item_id, ARRAY(SELECT c.candidate_id FROM judging_itemcandidate c
        WHERE c.item_id = claimed.id ORDER BY random()) AS ids
    FROM claimed),
lease AS (
    INSERT INTO judging_assignment ({{columns}}) SELECT {{values}} FROM shown
    ON CONFLICT (item_id, trainer_id) DO NOTHING RETURNING id)
SELECT shown.item_id, shown.ids, (SELECT id FROM lease) AS lease_id FROM shown
"""
_LEASE_FROM_SHOWN = {"item_id": "shown.item_id", "display_order": "to_jsonb(shown.ids)"}


def _unsaved_lease(trainer, project: Project, now: datetime, item_id=None, order=None):
    return Assignment(
        code=uuid.uuid4(),
        item_id=item_id,
        trainer=trainer,
        status=Assignment.Status.LEASED,
        lease_expires_at=_lease_end(project, now),
        display_order=order,
        skip_reason="",
        created_at=now,
        updated_at=now,
    )


def _saved(assignment: Assignment, pk: int) -> Assignment:
    assignment.pk = pk
    assignment._state.adding = False
    assignment._state.db = "default"
    return assignment


def _claim_from_queue(
    trainer, queue_id: int, project: Project, now: datetime, allowed_mask: int
) -> Assignment | None:
    """Lock the best open item of one queue (skipping rows others hold) and lease it."""
    claim_params = [queue_id, ~allowed_mask, trainer.pk]
    if connection.vendor != "postgresql":
        return _claim_then_lease(trainer, project, now, claim_params)
    lease = _unsaved_lease(trainer, project, now)
    fields = [f for f in Assignment._meta.concrete_fields if not f.primary_key]
    values, lease_params = [], []
    for f in fields:
        if f.column in _LEASE_FROM_SHOWN:
            values.append(_LEASE_FROM_SHOWN[f.column])
        else:
            values.append("%s")
            lease_params.append(f.get_db_prep_save(getattr(lease, f.attname), connection))
    sql = _CLAIM_AND_LEASE_SQL.format(
        lock=_for_update("i", skip_locked=True, no_key=True),
        columns=", ".join(f.column for f in fields),
        values=", ".join(values),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, claim_params + lease_params)
        row = cursor.fetchone()
    if row is None:
        return None
    item_id, order, lease_id = row
    if lease_id is None:
        _give_slot_back(item_id)
        raise _SameItemTwice
    lease.item_id, lease.display_order = item_id, list(order)
    return _saved(lease, lease_id)


def _claim_then_lease(trainer, project: Project, now: datetime, claim_params: list):
    """The claim as two statements, where a data-modifying WITH is not at hand (SQLite)."""
    sql = _CLAIM_SQL.format(
        lock=_for_update("i", skip_locked=True, no_key=True),
        returning=f"id, {_SQLITE_CANDIDATES}",
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, claim_params)
        row = cursor.fetchone()
    if row is None:
        return None
    order = [int(x) for x in (row[1] or "").split(",") if x]
    _random.shuffle(order)
    try:
        return _new_assignment(row[0], trainer, project, now, order=order)
    except _SameItemTwice:
        _give_slot_back(row[0])
        raise


def _give_slot_back(item_id: int) -> None:
    """Undo a claim whose lease could not be inserted (before trying again)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE judging_item SET open_slots = open_slots + 1, n_leases = n_leases - 1 "
            "WHERE id = %s",
            [item_id],
        )


_QUEUES_SQL = """
SELECT q.id FROM judging_queue q
WHERE q.project_id = %s AND NOT q.is_paused AND (NOT q.restricted OR EXISTS (
    SELECT 1 FROM judging_queue_trainers t WHERE t.queue_id = q.id AND t.user_id = %s))
ORDER BY q.priority DESC, q.id
"""


def claim_next(
    *,
    trainer,
    project: Project,
    now: datetime | None = None,
    wait: bool = True,
    state: "_TrainerState | None" = None,
) -> Assignment | None:
    """Hand the trainer their open work, else the best next item under a new lease.

    Order: own lease or returned judgment; qualification gold; a gold item at the project's
    rate; then queues by priority, items by priority, fullest first, oldest first. Rows other
    trainers hold are skipped; if every open item is held (the end of a queue, its last items
    being submitted right now), `wait` looks again for up to half a second instead of
    answering "nothing left" (not while the caller holds item locks: they would be held
    through the wait). `state` is the trainer's state, when the caller sent its reads
    already (a submit does, with its writes).
    """
    now = now or timezone.now()
    for _attempt in range(3):
        # Inside a caller's transaction this joins it (no savepoint round trips): a conflict
        # is undone by hand below instead of rolled back.
        with transaction.atomic(savepoint=False):
            try:
                return _claim(trainer, project, now, wait, state or _TrainerState(trainer, project))
            except _SameItemTwice:
                state = None  # read afresh
                continue  # the same trainer claimed the same item from two tabs: try again
    return None


def _claim(
    trainer, project: Project, now: datetime, wait: bool, state: _TrainerState
) -> Assignment | None:
    own, membership, queues = state.read()
    if own is not None:
        return _renewed(own, project, now)
    if membership.is_paused or membership.qualification_failed_at:
        return None
    allowed = trainer.harm_opt_in_mask
    if project.harm_exposure_cap is not None and (
        harmful_today(trainer, project, now) >= project.harm_exposure_cap
    ):
        allowed = 0
    if needs_qualification(membership):
        return _claim_gold(trainer, project, now, allowed)
    cap = daily_cap_of(membership)
    if cap is not None and judged_today(trainer, project, now) >= cap:
        return None
    if project.gold_rate > 0 and _random.random() < project.gold_rate:
        gold = _claim_gold(trainer, project, now, allowed)
        if gold is not None:
            return gold
    for queue_id in queues:
        assignment = _claim_from_queue(trainer, queue_id, project, now, allowed)
        if assignment is not None:
            return assignment
    # Everything open may be held by trainers judging it right now (the end of a queue):
    # look again a few times rather than answer "nothing left". Never by waiting on their
    # row locks: waiting claims lock rows in different orders and would deadlock.
    rounds = WAIT_ROUNDS if wait and connection.features.has_select_for_update_skip_locked else 0
    for _round in range(rounds):
        if not _any_open(trainer, queues, allowed):
            break
        time.sleep(WAIT_SECONDS)
        for queue_id in queues:
            assignment = _claim_from_queue(trainer, queue_id, project, now, allowed)
            if assignment is not None:
                return assignment
    return None


WAIT_ROUNDS, WAIT_SECONDS = 50, 0.01
_ANY_OPEN_SQL = (
    f"SELECT 1 FROM judging_item i WHERE {_OPEN_FOR_TRAINER.format(queues='= ANY(%s)')} LIMIT 1"
)


def _any_open(trainer, queue_ids: list[int], allowed_mask: int) -> bool:
    """Whether any item could still be leased to the trainer, locked or not (no lock)."""
    with connection.cursor() as cursor:
        cursor.execute(_ANY_OPEN_SQL, [queue_ids, ~allowed_mask, trainer.pk])
        return cursor.fetchone() is not None


# --- submit ----------------------------------------------------------------------------------


def _snapshot(judgment: Judgment) -> dict:
    return {
        "preferred": judgment.preferred_id,
        "strength": judgment.strength,
        "ranking": judgment.ranking,
        "all_bad": judgment.all_bad,
        "rationale": judgment.rationale,
        "time_spent_ms": judgment.time_spent_ms,
        "guideline_version": judgment.guideline_version,
        "created_at": judgment.created_at.isoformat(),
        "updated_at": judgment.updated_at.isoformat(),
        "review_comment": judgment.review_comment,
        "scores": sorted(judgment.scores.values_list("candidate_id", "dimension_id", "value")),
        "flags": sorted(judgment.flags.values_list("candidate_id", "key")),
    }


def _write_answer(
    answer: JudgmentInput, *, judgment_id: int | None = None, assignment_id: int | None = None
) -> None:
    """The scores and flags of an answer, one multi-row INSERT each. The judgment is named by
    its id, or by its assignment's (when sent in one pipeline with the judgment's INSERT,
    before its id has come back)."""
    if judgment_id is not None:
        ref, ref_param = "%s", judgment_id
    else:
        ref, ref_param = "(SELECT id FROM judging_judgment WHERE assignment_id = %s)", assignment_id
    with connection.cursor() as cursor:
        if answer.scores:
            rows = [(ref_param, c, d, v) for (c, d), v in sorted(answer.scores.items())]
            cursor.execute(
                "INSERT INTO judging_score (judgment_id, candidate_id, dimension_id, value) "
                "VALUES " + ", ".join([f"({ref}, %s, %s, %s)"] * len(rows)),
                [x for row in rows for x in row],
            )
        if answer.flags:
            rows = [(ref_param, c, k) for c, k in sorted(answer.flags)]
            cursor.execute(
                "INSERT INTO judging_candidateflag (judgment_id, candidate_id, key) "
                "VALUES " + ", ".join([f"({ref}, %s, %s)"] * len(rows)),
                [x for row in rows for x in row],
            )


def gold_is_correct(item: Item, answer: JudgmentInput) -> bool:
    """Compare an answer with a gold item's expected one (see README, 'Gold items')."""
    gold = item.gold_answer or {}
    correct = True
    if "preferred" in gold:
        expected = gold["preferred"]
        if answer.ranking is not None:
            correct = expected in answer.ranking[0]
        elif expected is None:
            correct = (answer.strength or 0) <= gold.get("tolerance", 0)
        else:
            tie_ok = answer.strength == 0 and gold.get("tolerance", 0) >= 1
            correct = answer.preferred_id == expected or tie_ok
    for cid, key in gold.get("flags", []):
        correct = correct and (cid, key) in answer.flags
    return correct


def _after_gold(trainer, project: Project, now: datetime) -> None:
    """Settle qualification, and pause a trainer whose recent gold accuracy is too low."""
    membership = Membership.objects.select_for_update().get(project=project, user=trainer)
    answered = Judgment.objects.filter(
        assignment__trainer=trainer, assignment__item__project=project, gold_correct__isnull=False
    ).order_by("-created_at", "-id")
    if needs_qualification(membership):
        results = list(
            answered.values_list("gold_correct", flat=True)[: project.qualification_size]
        )
        more_gold = (
            Item.objects.filter(project=project, is_gold=True)
            .exclude(assignments__trainer=trainer)
            .exists()
        )
        if len(results) >= project.qualification_size or not more_gold:
            if sum(results) >= project.qualification_pass:
                membership.qualified_at = now
            else:
                membership.qualification_failed_at = now
            membership.save(update_fields=["qualified_at", "qualification_failed_at"])
        return
    window = list(answered.values_list("gold_correct", flat=True)[: project.gold_window])
    if len(window) < project.gold_window or membership.is_paused:
        return
    accuracy = sum(window) / len(window)
    if accuracy < project.gold_min_accuracy:
        membership.is_paused = True
        membership.paused_reason = (
            f"gold accuracy {accuracy:.0%} over the last {len(window)} gold items is below "
            f"{project.gold_min_accuracy:.0%}"
        )
        membership.save(update_fields=["is_paused", "paused_reason"])
        Notice.objects.create(
            project=project, text=f"{trainer.username} was paused: {membership.paused_reason}."
        )


_SUBMIT_LOCK_SQL = """
SELECT a.status, a.display_order, a.item_id, i.project_id, i.queue_id, i.prompt_id, i.is_gold,
       i.open_slots, p.guidelines_version, p.time_zone
FROM judging_assignment a
JOIN judging_item i ON i.id = a.item_id JOIN projects_project p ON p.id = i.project_id
WHERE a.id = %s AND a.trainer_id = %s{lock}
"""


@transaction.atomic
def submit_judgment(*, trainer, assignment: Assignment, answer: JudgmentInput) -> Judgment:
    """Store the trainer's judgment exactly once and settle the item's counters.

    A repeated submit returns the stored judgment. A submit on a lease that was reclaimed
    counts if the item still has room; otherwise it is kept as a late judgment
    (`counts=False`) for leads to see, never dropped.
    """
    return _store_judgment(trainer, assignment, answer)


def submit_and_claim_next(
    *, trainer, project: Project, assignment: Assignment, answer: JudgmentInput
) -> tuple[Judgment, Assignment | None]:
    """Submit a judgment and lease the trainer's next item in one transaction (one commit).

    The locks taken (the assignment, its item, the new item) are held only until the claim
    is done; the page is rendered after the commit. Only when no open item was free does a
    second, waiting claim follow in its own transaction.
    """
    with transaction.atomic():
        state = _TrainerState(trainer, project)
        judgment = _store_judgment(trainer, assignment, answer, then=state.send)
        following = claim_next(trainer=trainer, project=project, wait=False, state=state)
    if following is None:
        # Every open item may be held by trainers submitting right now: look again (and
        # again) in a transaction of its own, now that this one's locks are released.
        following = claim_next(trainer=trainer, project=project)
    return judgment, following


def _store_judgment(
    trainer, assignment: Assignment, answer: JudgmentInput, *, then=None
) -> Judgment:
    """submit_judgment's body: a handful of plain statements on the common path (lock the
    assignment and its item, counters, judgment, scores, status, the dashboard's rollups).
    `then` sends more statements in the same round trip as the writes of a new, ordinary,
    unflagged judgment (elsewhere it is not called)."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            _SUBMIT_LOCK_SQL.format(lock=_for_update("a, i")), [assignment.pk, trainer.pk]
        )
        row = cursor.fetchone()
    if row is None:
        raise Assignment.DoesNotExist("No such assignment for this trainer")
    status, shown, item_id, project_id, queue_id, prompt_id, is_gold, open_slots = row[:8]
    guidelines_version, time_zone = row[8:]
    if status == Assignment.Status.SUBMITTED:
        return Judgment.objects.get(assignment_id=assignment.pk)
    if status == Assignment.Status.SKIPPED:
        raise AssignmentClosed("You skipped this item.")
    shown = Assignment._meta.get_field("display_order").from_db_value(shown, None, connection)
    item = Item(
        id=item_id,
        project_id=project_id,
        queue_id=queue_id,
        prompt_id=prompt_id,
        is_gold=is_gold,
        open_slots=open_slots,
    )
    if is_gold or status == Assignment.Status.RETURNED:
        item = Item.objects.select_related("project").get(pk=item_id)  # the rare paths
    if status == Assignment.Status.RETURNED:
        judgment = _revise(Judgment.objects.get(assignment_id=assignment.pk), answer, item.project)
        _finish_assignment(assignment.pk, now)
        _after_judgment(trainer, item, answer, now)
        return judgment

    # Gold items are outside k and always count; a lapsed lease counts while there is room.
    counts = is_gold or status == Assignment.Status.LEASED or open_slots > 0
    judgment = Judgment(
        assignment_id=assignment.pk,
        preferred_id=answer.preferred_id,
        strength=answer.strength,
        ranking=answer.ranking,
        all_bad=answer.all_bad,
        rationale=answer.rationale,
        time_spent_ms=answer.time_spent_ms,
        shown_order=shown,
        guideline_version=guidelines_version,
        counts=counts,
        gold_correct=gold_is_correct(item, answer) if is_gold else None,
        created_at=now,
        updated_at=now,
    )
    # Every write of a new judgment in one round trip: nothing here reads a result before
    # the end (the scores name the judgment by its assignment). The per-queue minute row of
    # the rollups is shared, so the transaction should commit soon after.
    with connection.cursor() as cursor, connection.cursor() as inserted:
        with pipelined():  # the judgment's id is read after it, from the still open cursor
            if is_gold:
                pass  # gold items are outside k: no counters
            elif status == Assignment.Status.LEASED:
                cursor.execute(
                    "UPDATE judging_item SET n_leases = n_leases - 1, "
                    "n_judgments = n_judgments + 1 WHERE id = %s",
                    [item_id],
                )
            elif counts:  # expired or released, and the item still has room
                cursor.execute(
                    "UPDATE judging_item SET open_slots = open_slots - 1, "
                    "n_judgments = n_judgments + 1 WHERE id = %s",
                    [item_id],
                )
            inserted.execute(*_insert_sql(judgment))
            _write_answer(answer, assignment_id=assignment.pk)
            _finish_assignment(assignment.pk, now)
            rollups.tally_judgment(
                project_id=project_id,
                time_zone=time_zone,
                trainer_id=trainer.pk,
                queue_id=queue_id,
                now=now,
                counts=counts,
                is_gold=is_gold,
                gold_correct=judgment.gold_correct,
                answer=rollups.contribution(
                    preferred_id=answer.preferred_id,
                    shown_order=shown,
                    n_flags=len(answer.flags),
                    time_spent_ms=answer.time_spent_ms,
                ),
            )
            # What follows the writes must not change what `then` reads: a gold judgment may
            # pause the trainer, a flag may quarantine the prompt (and end leases on it).
            if then is not None and not is_gold and not answer.flags:
                then()
        judgment.pk = inserted.fetchone()[0]
    judgment._state.adding = False
    judgment._state.db = "default"
    _after_judgment(trainer, item, answer, now)
    return judgment


def _finish_assignment(assignment_id: int, now: datetime) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE judging_assignment SET status = %s, finished_at = %s, updated_at = %s "
            "WHERE id = %s",
            [Assignment.Status.SUBMITTED, *[connection.ops.adapt_datetimefield_value(now)] * 2]
            + [assignment_id],
        )


def _after_judgment(trainer, item: Item, answer: JudgmentInput, now: datetime) -> None:
    """What a judgment sets off: harm flags spread to the item, gold settles accuracy."""
    _propagate_flags(item=item, answer=answer, trainer=trainer)
    if item.is_gold:
        _after_gold(trainer, item.project, now)


def _propagate_flags(*, item: Item, answer: JudgmentInput, trainer) -> None:
    """Harm flags hide a response from later trainers; a minors flag quarantines the prompt."""
    by_candidate: dict[int, set[str]] = {}
    for cid, key in answer.flags:
        by_candidate.setdefault(cid, set()).add(key)
    for cid, keys in by_candidate.items():
        mark_candidate_harm(candidate_id=cid, mask=harm_mask(keys))
    if any(QUARANTINE_KEY in keys for keys in by_candidate.values()):
        quarantine_prompt(prompt_id=item.prompt_id, actor=trainer, reason="flagged by a trainer")


def mark_candidate_harm(*, candidate_id: int, mask: int) -> None:
    """Add harm bits to a candidate and every item showing it (opt-in routing and the content
    warning read them), whoever found the harm: a trainer's flag or a screening."""
    if mask:
        Candidate.objects.filter(pk=candidate_id).update(harm_mask=F("harm_mask").bitor(mask))
        Item.objects.filter(candidates=candidate_id).update(harm_mask=F("harm_mask").bitor(mask))


QUARANTINE_BIT = HARM_BITS[QUARANTINE_KEY]


@transaction.atomic
def quarantine_prompt(*, prompt_id: int, actor, reason: str) -> int:
    """Take a prompt out of every queue and view for good; log it for the escalation report."""
    prompt = Prompt.objects.select_for_update().get(pk=prompt_id)
    if prompt.quarantined_at is None:
        prompt.quarantined_at = timezone.now()
        prompt.save(update_fields=["quarantined_at", "updated_at"])
    items = Item.objects.filter(prompt_id=prompt_id)
    items.update(harm_mask=F("harm_mask").bitor(QUARANTINE_BIT))
    ended = release_item_leases(items=items)
    audit.record(
        action="quarantine",
        actor=actor,
        project=prompt.project,
        obj=prompt,
        reason=reason,
        leases_ended=ended,
    )
    return ended


def _revise(judgment: Judgment, answer: JudgmentInput, project: Project) -> Judgment:
    """Replace a returned judgment's answer, keeping the earlier one as a revision."""
    before = rollups.contribution(
        preferred_id=judgment.preferred_id,
        shown_order=judgment.shown_order,
        n_flags=judgment.flags.count(),
        time_spent_ms=judgment.time_spent_ms,
    )
    JudgmentRevision.objects.create(
        judgment=judgment, snapshot=_snapshot(judgment), reason=judgment.review_comment
    )
    judgment.scores.all().delete()
    judgment.flags.all().delete()
    judgment.preferred_id = answer.preferred_id
    judgment.strength = answer.strength
    judgment.ranking = answer.ranking
    judgment.all_bad = answer.all_bad
    judgment.rationale = answer.rationale
    judgment.time_spent_ms = answer.time_spent_ms
    judgment.guideline_version = project.guidelines_version
    judgment.review_status = ""
    judgment.save()
    _write_answer(answer, judgment_id=judgment.pk)
    rollups.tally_revision(
        project=project,
        trainer_id=judgment.assignment.trainer_id,
        made_at=judgment.created_at,
        before=before,
        after=rollups.contribution(
            preferred_id=answer.preferred_id,
            shown_order=judgment.shown_order,
            n_flags=len(answer.flags),
            time_spent_ms=answer.time_spent_ms,
        ),
    )
    return judgment


# --- skip, expire, release --------------------------------------------------------------------


def _free_slots(item_counts: Counter) -> None:
    for item_id, n in sorted(item_counts.items()):
        Item.objects.filter(pk=item_id, is_gold=False).update(
            n_leases=F("n_leases") - n, open_slots=F("open_slots") + n
        )


@transaction.atomic
def skip_assignment(*, trainer, assignment: Assignment, reason: str) -> Assignment:
    """Give the item back with a reason; the trainer will not be offered it again."""
    assignment = (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("item__project")
        .get(pk=assignment.pk, trainer=trainer)
    )
    if assignment.status == Assignment.Status.SKIPPED:
        return assignment
    if assignment.status != Assignment.Status.LEASED:
        raise AssignmentClosed(f"This item was {assignment.get_status_display().lower()}.")
    assignment.status = Assignment.Status.SKIPPED
    assignment.skip_reason = reason[:300]
    assignment.finished_at = timezone.now()
    assignment.save(update_fields=["status", "skip_reason", "finished_at", "updated_at"])
    _free_slots(Counter([assignment.item_id]))
    rollups.tally_skip(
        project=assignment.item.project, trainer_id=trainer.pk, now=assignment.finished_at
    )
    return assignment


def _end_leases(leases, status: str) -> int:
    rows = list(leases.select_for_update(skip_locked=True).values_list("id", "item_id")[:5000])
    if not rows:
        return 0
    Assignment.objects.filter(pk__in=[r[0] for r in rows]).update(
        status=status, updated_at=timezone.now()
    )
    _free_slots(Counter(r[1] for r in rows))
    return len(rows)


@transaction.atomic
def expire_leases(*, now: datetime | None = None) -> int:
    """Return lapsed leases to the pool (run by celery beat every minute)."""
    now = now or timezone.now()
    lapsed = Assignment.objects.filter(status=Assignment.Status.LEASED, lease_expires_at__lte=now)
    return _end_leases(lapsed, Assignment.Status.EXPIRED)


@transaction.atomic
def release_item_leases(*, items) -> int:
    """End every open lease on these items (their content was withdrawn)."""
    live = Assignment.objects.filter(item__in=items, status=Assignment.Status.LEASED)
    return _end_leases(live, Assignment.Status.RELEASED)


@transaction.atomic
def release_leases(*, project: Project, trainer) -> int:
    """A lead takes back every open lease a trainer holds in a project."""
    held = Assignment.objects.filter(
        status=Assignment.Status.LEASED, trainer=trainer, item__project=project
    )
    return _end_leases(held, Assignment.Status.RELEASED)


# --- review ---------------------------------------------------------------------------------


@transaction.atomic
def review_judgment(*, judgment: Judgment, by, accept: bool, comment: str = "") -> Judgment:
    """Accept a judgment, or return it to its trainer with a comment to revise it."""
    judgment = Judgment.objects.select_for_update().select_related("assignment").get(pk=judgment.pk)
    judgment.review_status = "accepted" if accept else "returned"
    judgment.review_comment = comment
    judgment.reviewed_by = by
    judgment.reviewed_at = timezone.now()
    judgment.save(
        update_fields=[
            "review_status",
            "review_comment",
            "reviewed_by",
            "reviewed_at",
            "updated_at",
        ]
    )
    if not accept:
        assignment = Assignment.objects.select_for_update().get(pk=judgment.assignment_id)
        assignment.status = Assignment.Status.RETURNED
        assignment.save(update_fields=["status", "updated_at"])
    return judgment


def requeue_outdated(*, project: Project, by) -> int:
    """Return every judgment made under older guidelines to its trainer for another look."""
    outdated = Judgment.objects.filter(
        assignment__item__project=project,
        assignment__status=Assignment.Status.SUBMITTED,
        guideline_version__lt=project.guidelines_version,
        counts=True,
    )
    comment = (
        f"The guidelines changed to version {project.guidelines_version}: "
        "please check this judgment against them."
    )
    n = 0
    for judgment in outdated.iterator():
        review_judgment(judgment=judgment, by=by, accept=False, comment=comment)
        n += 1
    return n


# --- lead actions: gold items, queues, trainers ---------------------------------------------


@transaction.atomic
def mark_gold(*, item: Item, answer: dict | None, by) -> Item:
    """Make an item gold with its expected answer (see docs/queues.md), or ordinary again.

    A gold item leaves the normal queue (it is served only as gold, exempt from overlap);
    an item made ordinary again gets its open slots back from its queue's overlap.
    """
    item = Item.objects.select_for_update().select_related("queue").get(pk=item.pk)
    if answer is None:
        item.is_gold = False
        item.gold_answer = None
        item.open_slots = max(item.queue.overlap - item.n_judgments - item.n_leases, 0)
    else:
        item.is_gold = True
        item.gold_answer = answer
        item.open_slots = 0
    item.save(update_fields=["is_gold", "gold_answer", "open_slots", "updated_at"])
    return item


@transaction.atomic
def update_queue(
    *,
    queue: Queue,
    name: str,
    priority: int,
    overlap: int,
    is_paused: bool,
    restricted: bool,
    trainers: Sequence = (),
) -> Queue:
    """Change a queue's name, priority, overlap, pause state and audience."""
    queue.name = name
    queue.priority = priority
    queue.is_paused = is_paused
    queue.restricted = restricted
    queue.save(update_fields=["name", "priority", "is_paused", "restricted", "updated_at"])
    queue.trainers.set(trainers if restricted else [])
    if overlap != queue.overlap:
        set_queue_overlap(queue=queue, overlap=overlap)
    return queue


def create_queue(
    *, project: Project, name: str, priority: int = 0, overlap: int | None = None
) -> Queue:
    """Add a queue to a project (items go to it when created or imported into it)."""
    return Queue.objects.create(
        project=project, name=name, priority=priority, overlap=overlap or project.overlap
    )


@transaction.atomic
def set_trainer_state(
    *, membership: Membership, daily_cap: int | None, is_paused: bool, reason: str = ""
) -> Membership:
    """A lead sets a trainer's own daily cap, pauses them or lets them work again."""
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    membership.daily_cap = daily_cap
    if is_paused != membership.is_paused:
        membership.is_paused = is_paused
        membership.paused_reason = (reason or "paused by the lead") if is_paused else ""
    membership.save(update_fields=["daily_cap", "is_paused", "paused_reason", "updated_at"])
    return membership


QUEUE_SETTING_FIELDS = (
    "daily_cap",
    "time_zone",
    "gold_rate",
    "gold_window",
    "gold_min_accuracy",
    "qualification_size",
    "qualification_pass",
)


@transaction.atomic
def update_queue_settings(*, project: Project, **values) -> Project:
    """Save the project's cap, day boundary, gold rate and qualification rules."""
    unknown = set(values) - set(QUEUE_SETTING_FIELDS)
    if unknown:
        raise TypeError(f"not queue settings: {sorted(unknown)}")
    for name, value in values.items():
        setattr(project, name, value)
    project.save(update_fields=[*values, "updated_at"])
    return project
