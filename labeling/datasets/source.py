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
    # Candidates come as parallel arrays over the binary protocol: no JSON escaping of
    # ~1,200-character texts on the server, no parsing in Python.
    return f"""
        SELECT t.item_id, t.prompt_id, p.messages, bool_or(t.is_gold),
          (SELECT ARRAY[array_agg(c.id ORDER BY ic.slot)::text[],
                        array_agg(c.text ORDER BY ic.slot),
                        array_agg(c.model_name ORDER BY ic.slot)::text[],
                        array_agg(c.metadata::text ORDER BY ic.slot)]
             FROM judging_itemcandidate ic JOIN projects_candidate c ON c.id = ic.candidate_id
            WHERE ic.item_id = t.item_id),
          json_agg(json_build_array(j.id, t.trainer_id, j.preferred_id, j.strength, j.ranking,
                   j.all_bad, j.shown_order, j.guideline_version, {scores}, {flags}, {extras})
                   ORDER BY j.id)
        FROM export_scope t
        JOIN judging_judgment j ON j.id = t.judgment_id
        JOIN projects_prompt p ON p.id = t.prompt_id
        WHERE t.reason IS NULL
        GROUP BY t.prompt_id, t.item_id, p.id
        ORDER BY t.prompt_id, t.item_id
    """


@contextmanager
def open_scope(
    *, project_id: int, options: ExportOptions, low_gold_trainers: list[int]
) -> Iterator[tuple[Scope, "ItemStream"]]:
    """Fill the scope table and yield its counts and a stream of item rows."""
    arms, params = _reasons(options, low_gold_trainers)
    params["project"] = project_id
    with raw_connection() as conn, conn.transaction():
        # Sorting a million items by prompt stays in memory instead of spilling to disk.
        conn.execute("SET LOCAL work_mem = '64MB'")
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
        with conn.cursor(name="export_items", binary=True) as cursor:
            cursor.itersize = options.batch_size
            cursor.execute(_item_query(options))
            stream = ItemStream(cursor, options.batch_size)
            try:
                yield scope, stream
            finally:
                stream.close()


def _candidates(arrays: list[list[str]] | None) -> list:
    """[ids, texts, models, metadata] arrays -> [[id, text, model, metadata], …]."""
    if not arrays:
        return []
    ids, texts, models, metas = arrays
    loads = orjson.loads
    return [
        [int(i), t, m, loads(meta) if meta != "{}" else {}]
        for i, t, m, meta in zip(ids, texts, models, metas, strict=True)
    ]


class ItemStream:
    """Batches of item rows from the server-side cursor, read one batch ahead.

    A FETCH on a server-side cursor is a round trip during which Python would sit idle, and
    while Python builds rows the server would: a reader thread keeps one batch in flight so
    the two overlap (psycopg releases the GIL while it waits on the socket).
    """

    def __init__(self, cursor: psycopg.Cursor, batch_size: int) -> None:
        self.cursor = cursor
        self.batch_size = batch_size
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _read(self) -> None:
        try:
            while not self._stop.is_set():
                rows = self.cursor.fetchmany(self.batch_size)
                self._queue.put([(r[0], r[1], r[2], r[3], _candidates(r[4]), r[5]) for r in rows])
                if not rows:
                    return
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
