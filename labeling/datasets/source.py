"""Stream a project's judgments out of PostgreSQL, one item at a time, in constant memory.

One transaction on a raw psycopg connection (the Django connection stays free for progress
updates): the judgments in scope go into a temporary table with the reason each excluded one
is out, then a named (server-side) cursor yields one row per item with its prompt, candidates
and judgments, ordered by prompt then item so everything about one prompt arrives together.
No ORM objects: a million judgments are a million tuples passing through.
"""

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import orjson
import psycopg
from django.db import connection
from psycopg.types.json import set_json_loads

from labeling.projects.taxonomy import HARM_FLAG_KEYS

from .options import ExportOptions

# Positions in a judgment array.
J_ID, J_TRAINER, J_PREFERRED, J_STRENGTH, J_RANKING, J_ALL_BAD, J_SHOWN, J_VERSION = range(8)
J_SCORES, J_FLAGS, J_RATIONALE, J_TIME_MS, J_CREATED, J_COUNTS = range(8, 14)
# Positions in a candidate array.
C_ID, C_TEXT, C_MODEL, C_META = range(4)

# item_id, prompt_id, messages, is_gold, candidates, judgments
ItemRow = tuple[int, int, list, bool, list, list]


@dataclass
class Scope:
    """What the temporary table holds: counts of kept and excluded judgments."""

    judgments: int = 0
    items: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    opted_out_prompts: int = 0


def raw_connection() -> psycopg.Connection:
    """A plain psycopg connection to Django's database, outside Django's transaction."""
    params = {
        k: v
        for k, v in connection.get_connection_params().items()
        if k not in {"cursor_factory", "context", "prepare_threshold"}
    }
    conn = psycopg.connect(**params)
    set_json_loads(orjson.loads, conn)
    conn.execute("SET TIME ZONE 'UTC'")
    return conn


def _day_start(value: str) -> datetime:
    return datetime.combine(date.fromisoformat(value), time.min, tzinfo=UTC)


def _reasons(options: ExportOptions, low_gold_trainers: list[int]) -> tuple[list[str], dict]:
    """SQL CASE arms (first match wins) for every reason a judgment is left out."""
    arms = [
        "WHEN p.deleted_at IS NOT NULL THEN 'deleted'",
        "WHEN p.quarantined_at IS NOT NULL THEN 'quarantined'",
        "WHEN p.consent = 'opted_out' THEN 'opted_out'",
    ]
    params: dict = {}
    if not options.include_gold:
        arms.append("WHEN i.is_gold THEN 'gold'")
    if not options.include_late:
        arms.append("WHEN NOT j.counts THEN 'late'")
    if options.date_from:
        arms.append("WHEN j.created_at < %(date_from)s THEN 'date_range'")
        params["date_from"] = _day_start(options.date_from)
    if options.date_to:
        arms.append("WHEN j.created_at >= %(date_to)s THEN 'date_range'")
        params["date_to"] = _day_start(options.date_to) + timedelta(days=1)
    if options.guideline_versions:
        arms.append("WHEN NOT (j.guideline_version = ANY(%(versions)s)) THEN 'guideline_version'")
        params["versions"] = list(options.guideline_versions)
    if low_gold_trainers:
        arms.append("WHEN a.trainer_id = ANY(%(low_gold)s) THEN 'trainer_gold_accuracy'")
        params["low_gold"] = low_gold_trainers
    if options.exclude_skipped:
        arms.append(
            "WHEN EXISTS (SELECT 1 FROM judging_assignment s WHERE s.item_id = a.item_id"
            " AND s.status = 'skipped') THEN 'skipped_item'"
        )
    if options.exclude_flagged != "none":
        key_filter = "AND f.key = ANY(%(flag_keys)s)" if options.exclude_flagged == "harm" else ""
        params["flag_keys"] = sorted(HARM_FLAG_KEYS)
        arms.append(
            "WHEN EXISTS (SELECT 1 FROM judging_candidateflag f"
            " JOIN judging_judgment j2 ON j2.id = f.judgment_id"
            " JOIN judging_assignment a2 ON a2.id = j2.assignment_id"
            f" WHERE a2.item_id = a.item_id {key_filter}) THEN 'flagged_item'"
        )
    return arms, params


def needs_scores(options: ExportOptions) -> bool:
    return options.preference != "overall" or options.format in {"trl_kto", "ratings", "raw"}


def _item_query(options: ExportOptions) -> str:
    """One row per judgment in scope with its prompt, ordered by prompt, item and judgment
    (not grouped: json_agg per item costs the server more than the reader's grouping)."""
    scores = (
        "(SELECT json_agg(json_build_array(s.candidate_id, d.key, s.value)"
        " ORDER BY s.candidate_id, d.position, d.id)"
        " FROM judging_score s JOIN projects_dimension d ON d.id = s.dimension_id"
        " WHERE s.judgment_id = j.id)"
        if needs_scores(options)
        else "NULL"
    )
    flags = (
        "(SELECT json_agg(json_build_array(f.candidate_id, f.key) ORDER BY f.candidate_id, f.key)"
        " FROM judging_candidateflag f WHERE f.judgment_id = j.id)"
        if options.format in {"ratings", "raw"}
        else "NULL"
    )
    extras = (
        "j.rationale, j.time_spent_ms, j.created_at, j.counts"
        if options.format == "raw"
        else "NULL, NULL, NULL, NULL"
    )
    # JSON as text, parsed by orjson in the reader: psycopg's JSON loaders are Python code.
    return f"""
        SELECT t.item_id, t.prompt_id, t.is_gold, p.messages::text,
          json_build_array(j.id, t.trainer_id, j.preferred_id, j.strength, j.ranking,
                   j.all_bad, j.shown_order, j.guideline_version, {scores}, {flags}, {extras})::text
        FROM export_scope t
        JOIN judging_judgment j ON j.id = t.judgment_id
        JOIN projects_prompt p ON p.id = t.prompt_id
        WHERE t.reason IS NULL
        ORDER BY t.prompt_id, t.item_id, j.id
    """


def needs_metadata(options: ExportOptions) -> bool:
    return options.provenance or options.format == "raw"


def _candidate_query(options: ExportOptions) -> str:
    """One row per (item, candidate) in the item query's order, texts as they are stored.

    Not aggregated per item: arrays of ~1,200-character texts cost the server more to build
    than the rows do to send. The narrow (item, slot, candidate) list is sorted first, then
    each candidate is read by primary key, so the wide rows are never sorted (no spill to
    disk at a million items); the caller plans it with hash and merge joins off so that the
    lookups keep that order.
    """
    meta = "c.metadata::text" if needs_metadata(options) else "NULL"
    return f"""
        SELECT s.item_id, c.id, c.text, c.model_name, {meta}
        FROM (
            SELECT t.prompt_id, t.item_id, ic.slot, ic.candidate_id
            FROM (SELECT DISTINCT prompt_id, item_id FROM export_scope WHERE reason IS NULL) t
            JOIN judging_itemcandidate ic ON ic.item_id = t.item_id
            ORDER BY t.prompt_id, t.item_id, ic.slot
            OFFSET 0
        ) s
        JOIN projects_candidate c ON c.id = s.candidate_id
        ORDER BY s.prompt_id, s.item_id, s.slot
    """


@contextmanager
def open_scope(
    *, project_id: int, options: ExportOptions, low_gold_trainers: list[int]
) -> Iterator[tuple[Scope, "ItemStream"]]:
    """Fill the scope table and yield its counts and a stream of item rows."""
    arms, params = _reasons(options, low_gold_trainers)
    params["project"] = project_id
    with raw_connection() as conn, conn.transaction():
        # The narrow sorts by prompt (a million judgments: about 130 MB) stay in memory
        # instead of spilling to disk; JIT compilation costs about half a second per query and
        # gains nothing on these plans.
        conn.execute("SET LOCAL work_mem = '256MB'")
        conn.execute("SET LOCAL jit = off")
        conn.execute(
            f"""
            CREATE TEMP TABLE export_scope ON COMMIT DROP AS
            SELECT j.id AS judgment_id, a.item_id, i.prompt_id, a.trainer_id, i.is_gold,
                   CASE {" ".join(arms)} ELSE NULL END AS reason
            FROM judging_judgment j
            JOIN judging_assignment a ON a.id = j.assignment_id
            JOIN judging_item i ON i.id = a.item_id
            JOIN projects_prompt p ON p.id = i.prompt_id
            WHERE i.project_id = %(project)s
            """,
            params,
        )
        if options.min_judgments > 1:
            conn.execute(
                """
                UPDATE export_scope SET reason = 'min_judgments'
                WHERE reason IS NULL AND item_id IN (
                    SELECT item_id FROM export_scope WHERE reason IS NULL
                    GROUP BY item_id HAVING count(*) < %s)
                """,
                [options.min_judgments],
            )
        conn.execute("ANALYZE export_scope")  # a temp table has no statistics otherwise
        scope = Scope()
        for reason, n in conn.execute(
            "SELECT reason, count(*) FROM export_scope GROUP BY reason ORDER BY reason"
        ):
            if reason is None:
                scope.judgments = n
            else:
                scope.excluded[reason] = n
        scope.items = conn.execute(
            "SELECT count(DISTINCT item_id) FROM export_scope WHERE reason IS NULL"
        ).fetchone()[0]
        scope.opted_out_prompts = conn.execute(
            "SELECT count(*) FROM projects_prompt WHERE project_id = %s AND consent = 'opted_out'",
            [project_id],
        ).fetchone()[0]
        with (
            conn.cursor(name="export_items", binary=True) as items,
            conn.cursor(name="export_candidates", binary=True) as candidates,
        ):
            items.execute(_item_query(options))
            conn.execute("SET LOCAL enable_hashjoin = off")
            conn.execute("SET LOCAL enable_mergejoin = off")
            candidates.execute(_candidate_query(options))
            conn.execute("RESET enable_hashjoin")
            conn.execute("RESET enable_mergejoin")
            stream = ItemStream(items, candidates, options.batch_size)
            try:
                yield scope, stream
            finally:
                stream.close()


def _rows(cursor: psycopg.Cursor, size: int) -> Iterator[tuple]:
    while rows := cursor.fetchmany(size):
        yield from rows


class ItemStream:
    """Batches of item rows from the two server-side cursors, read one batch ahead.

    A FETCH on a server-side cursor is a round trip during which Python would sit idle, and
    while Python builds rows the server would: a reader thread keeps one batch in flight so
    the two overlap (psycopg releases the GIL while it waits on the socket). The reader
    pairs each item with its candidates, which arrive in the same order.
    """

    def __init__(self, items: psycopg.Cursor, candidates: psycopg.Cursor, batch_size: int) -> None:
        self.items = items
        self.candidates = candidates
        self.batch_size = batch_size
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _read(self) -> None:
        try:
            size = self.batch_size
            judgments = _rows(self.items, size)
            candidates = _rows(self.candidates, 2 * size)
            loads = orjson.loads
            row, cand = next(judgments, None), next(candidates, None)
            prompt_id, messages = None, None
            batch: list[ItemRow] = []
            while row is not None:
                item_id, is_gold = row[0], row[2]
                if row[1] != prompt_id:
                    prompt_id, messages = row[1], loads(row[3])
                item_judgments = []
                while row is not None and row[0] == item_id:
                    item_judgments.append(loads(row[4]))
                    row = next(judgments, None)
                cands = []
                while cand is not None and cand[0] == item_id:
                    meta = cand[4]
                    cands.append([cand[1], cand[2], cand[3], loads(meta) if meta else None])
                    cand = next(candidates, None)
                batch.append((item_id, prompt_id, messages, is_gold, cands, item_judgments))
                if len(batch) == size:
                    self._queue.put(batch)
                    batch = []
                    if self._stop.is_set():
                        return
            if batch:
                self._queue.put(batch)
            self._queue.put([])
        except BaseException as exc:  # handed to the consumer
            self._queue.put(exc)

    def batches(self) -> Iterator[list[ItemRow]]:
        self._thread = threading.Thread(target=self._read, name="export-reader", daemon=True)
        self._thread.start()
        while True:
            batch = self._queue.get()
            if isinstance(batch, BaseException):
                raise batch
            if not batch:
                return
            yield batch

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            while self._thread.is_alive():
                with suppress(queue.Empty):
                    self._queue.get(timeout=0.1)
            self._thread.join()


def gold_accuracy(*, project_id: int) -> dict[int, tuple[int, int]]:
    """{trainer id: (correct, judged)} over gold items whose answer names a preferred response.

    A pairwise judgment is correct when it prefers the gold response; a ranking when the gold
    response is in its top tie-group.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT a.trainer_id, (i.gold_answer ->> 'preferred')::bigint, j.preferred_id,
                   j.ranking
            FROM judging_judgment j
            JOIN judging_assignment a ON a.id = j.assignment_id
            JOIN judging_item i ON i.id = a.item_id
            WHERE i.project_id = %s AND i.is_gold
              AND jsonb_typeof(i.gold_answer -> 'preferred') = 'number'
            """,
            [project_id],
        )
        tally: dict[int, tuple[int, int]] = {}
        for trainer_id, gold, preferred, ranking in cursor.fetchall():
            if isinstance(ranking, str):
                ranking = orjson.loads(ranking)
            correct = preferred == gold if ranking is None else gold in (ranking or [[]])[0]
            right, total = tally.get(trainer_id, (0, 0))
            tally[trainer_id] = (right + int(correct), total + 1)
        return tally
