"""Fill a project with synthetic judged items, fast, for benchmarks: one COPY per table.

    python manage.py make_synthetic --judgments 1000000 [--slug bench] [--trainers 50]

Rows are shaped like real ones: prompts of ~200 characters, two responses of ~1,200, one
judgment per item with scores on every rubric dimension and an occasional flag; the display
order is shuffled per assignment. Texts come from a pool of prose-like snippets with the row
number appended, so every prompt is distinct. Deterministic for a given --seed.
"""

import random
import time
from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

from labeling.accounts.models import User
from labeling.judging.models import Assignment, CandidateFlag, Item, ItemCandidate, Judgment, Score
from labeling.judging.services import default_queue
from labeling.projects.models import Candidate, Membership, Project, Prompt
from labeling.projects.services import create_project

# Prose-like filler with punctuation and quotes, as real prompts and responses have.
SAMPLE = (
    "the a an answer question model user should would could because however example python "
    "list tuple function returns value error please explain why how when where it is not "
    'clear that this will work, but you can try: first install, then run; "quoted" words '
    "and numbers like 42 or 3.14 appear too. it's fine."
)
WORDS = SAMPLE.split(" ")
POOL = 2048


def _text(rng: random.Random, chars: int) -> str:
    out, size = [], 0
    while size < chars:
        word = rng.choice(WORDS)
        out.append(word)
        size += len(word) + 1
    return " ".join(out)


def _reserve(cursor, model, count: int) -> int:
    """Take `count` ids from the table's sequence; return the first."""
    cursor.execute(
        "SELECT setval(pg_get_serial_sequence(%s, 'id'), nextval(pg_get_serial_sequence(%s, 'id'))"
        " + %s - 1)",
        [model._meta.db_table, model._meta.db_table, count],
    )
    return cursor.fetchone()[0] - count + 1


def _copy(cursor, model, rows, provided: tuple[str, ...]) -> None:
    """COPY rows (tuples of the `provided` attnames) into the model's table; other columns
    get the field's default."""
    fields = list(model._meta.concrete_fields)
    now = timezone.now()
    defaults, per_row = {}, {}
    for f in fields:
        if f.attname in provided:
            continue
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            defaults[f.attname] = now
        elif f.has_default() and callable(f.default) and f.default not in (dict, list):
            per_row[f.attname] = f.default  # e.g. uuid4: a fresh value for every row
        else:
            value = f.get_default()
            is_json = f.get_internal_type() == "JSONField" and value is not None
            defaults[f.attname] = Jsonb(value) if is_json else value
    order = [f.attname for f in fields]
    columns = ", ".join(f'"{f.column}"' for f in fields)
    index = {name: i for i, name in enumerate(provided)}
    template = [(index.get(name), defaults.get(name), per_row.get(name)) for name in order]
    with cursor.copy(f'COPY "{model._meta.db_table}" ({columns}) FROM STDIN') as copy:
        write = copy.write_row
        for row in rows:
            write([row[i] if i is not None else (make() if make else d) for i, d, make in template])


class Command(BaseCommand):
    help = "Create a project with N synthetic judgments (one per item) using COPY."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--judgments", type=int, default=100_000)
        parser.add_argument("--slug", default=None, help="default: synthetic-<judgments>")
        parser.add_argument("--trainers", type=int, default=50)
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, judgments: int, slug: str | None, trainers: int, seed: int, **o):
        slug = slug or f"synthetic-{judgments}"
        if Project.objects.filter(slug=slug).exists():
            raise CommandError(f"Project {slug} exists; delete it first or pick another --slug")
        started = time.perf_counter()
        rng = random.Random(seed)
        prompts = [_text(rng, 200) for _ in range(POOL)]
        responses = [_text(rng, 1200) for _ in range(POOL)]
        n = judgments
        with transaction.atomic():
            lead = User.objects.create(username=f"{slug}-lead", password=make_password(None))
            project = create_project(name=f"Synthetic {n:,}", created_by=lead)
            Project.objects.filter(pk=project.pk).update(slug=slug)
            project.slug = slug
            users = User.objects.bulk_create(
                User(username=f"{slug}-t{k}", password=make_password(None)) for k in range(trainers)
            )
            Membership.objects.bulk_create(
                Membership(project=project, user=u, role=Membership.Role.TRAINER) for u in users
            )
            queue = default_queue(project)
            dims = list(project.dimensions.values_list("id", flat=True))
            trainer_ids = [u.pk for u in users]
            now = timezone.now()
            with connection.cursor() as wrapper:
                cursor = wrapper.cursor
                p0 = _reserve(cursor, Prompt, n)
                c0 = _reserve(cursor, Candidate, 2 * n)
                i0 = _reserve(cursor, Item, n)
                a0 = _reserve(cursor, Assignment, n)
                j0 = _reserve(cursor, Judgment, n)
                s0 = _reserve(cursor, Score, 2 * len(dims) * n)
                ic0 = _reserve(cursor, ItemCandidate, 2 * n)
                picks = random.Random(seed + 1)
                answers = []  # (preferred slot or None, strength, order flipped, scores, flag)
                for _ in range(n):
                    r = picks.random()
                    preferred = None if r < 0.1 else (0 if r < 0.6 else 1)
                    strength = 0 if preferred is None else picks.randint(1, 3)
                    answers.append((preferred, strength, picks.random() < 0.5,
                                    [picks.randint(1, 7) for _ in range(2 * len(dims))],
                                    picks.random() < 0.02))  # fmt: skip

                _copy(cursor, Prompt, (
                    (p0 + i, project.pk, Jsonb([{"role": "user", "content":
                     f"{prompts[i % POOL]} (#{i})"}]), "granted")
                    for i in range(n)), ("id", "project_id", "messages", "consent"))  # fmt: skip
                _copy(cursor, Candidate, (
                    (c0 + 2 * i + s, p0 + i, f"{responses[(7 * i + 3 * s) % POOL]} (#{i}.{s})",
                     "model-a" if s == 0 else "model-b")
                    for i in range(n) for s in (0, 1)),
                    ("id", "prompt_id", "text", "model_name"))  # fmt: skip
                item_fields = {f.attname for f in Item._meta.concrete_fields}
                extra = tuple(k for k in ("n_judgments", "open_slots") if k in item_fields)
                _copy(cursor, Item, (
                    (i0 + i, project.pk, queue.pk, p0 + i, *((1, 0)[: len(extra)]))
                    for i in range(n)),
                    ("id", "project_id", "queue_id", "prompt_id", *extra))  # fmt: skip
                _copy(cursor, ItemCandidate, (
                    (ic0 + 2 * i + s, i0 + i, c0 + 2 * i + s, s) for i in range(n) for s in (0, 1)),
                    ("id", "item_id", "candidate_id", "slot"))  # fmt: skip

                def order(i):
                    a, b = c0 + 2 * i, c0 + 2 * i + 1
                    return [b, a] if answers[i][2] else [a, b]

                _copy(cursor, Assignment, (
                    (a0 + i, i0 + i, trainer_ids[i % trainers], "submitted", now, Jsonb(order(i)),
                     now) for i in range(n)),
                    ("id", "item_id", "trainer_id", "status", "lease_expires_at",
                     "display_order", "finished_at"))  # fmt: skip
                _copy(cursor, Judgment, (
                    (j0 + i, a0 + i,
                     None if answers[i][0] is None else c0 + 2 * i + answers[i][0],
                     answers[i][1], Jsonb(order(i)), 1, 2000 + i % 50_000,
                     now - timedelta(seconds=n - i))
                    for i in range(n)),
                    ("id", "assignment_id", "preferred_id", "strength", "shown_order",
                     "guideline_version", "time_spent_ms", "created_at"))  # fmt: skip
                nd = len(dims)
                _copy(cursor, Score, (
                    (s0 + (2 * nd) * i + k, j0 + i, c0 + 2 * i + k // nd, dims[k % nd],
                     answers[i][3][k])
                    for i in range(n) for k in range(2 * nd)),
                    ("id", "judgment_id", "candidate_id", "dimension_id", "value"))  # fmt: skip
                flagged = [i for i in range(n) if answers[i][4]]
                f0 = _reserve(cursor, CandidateFlag, max(1, len(flagged)))
                _copy(cursor, CandidateFlag, (
                    (f0 + k, j0 + i, c0 + 2 * i + 1, "factual_error")
                    for k, i in enumerate(flagged)),
                    ("id", "judgment_id", "candidate_id", "key"))  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        self.stdout.write(
            f"Project {slug}: {n:,} judged items ({trainers} trainers) in "
            f"{time.perf_counter() - started:.1f} s"
        )
