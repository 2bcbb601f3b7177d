"""The assignment engine under load, over HTTP, against the raw-SQL floor.

Run with `.venv/bin/python -m benchmarks.bench_queue [--items 100000] [--seconds 20]`.

1. Creates a scratch database `labeling_bench_queue` on the test PostgreSQL server
   (TEST_DATABASE_URL's server), migrates it with the production settings
   (`labeling.settings`, DATABASE_URL pointing at it), and loads a pairwise project with
   `--items` items at overlap k = 3 (COPY), its trainers and their sessions (logged in:
   one server-side session each, as `login()` would create).
2. Starts gunicorn on 127.0.0.1 the way production runs it (`scripts/gunicorn.conf.py`,
   `--workers`/`--threads` override it) in its own process group.
3. Saturation: 32 closed-loop trainers (start, then submit → next item arrives in the same
   htmx response → submit …, no pause) for `--seconds`; then the raw-SQL floor: 32 psycopg
   connections running claim (UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED)
   RETURNING) + insert assignment + insert judgment, one transaction each, for as long.
4. Unloaded: one trainer alone submits 100 times, 50 ms apart (the cost of one request on
   this machine with nothing queued before it: the floor under the open loop's tails).
   Realistic load: open-loop Poisson arrivals at `--rate` per second over `--trainers`
   trainers visited in turn (1,500 trainers at 50/s is one action per trainer per 30 s):
   a trainer's first arrival starts labeling (next item), every later one submits.
   Latency counts from the scheduled arrival, so a stalled server cannot hide its queue.
5. Checks correctness (no item over k, nobody twice on an item, counters equal to rows),
   times the lead dashboard's selectors on the data produced, and stops gunicorn.

The load client is this process: threads with one keep-alive `http.client` connection
each, sending pre-built request bodies, so it takes little CPU beside the server.
"""

import argparse
import contextlib
import http.client
import json
import os
import random
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from urllib.parse import urlencode

import psycopg
import psycopg.types.json

BENCH_DB = os.environ.get("BENCH_QUEUE_DB", "labeling_bench_queue")
DEFAULT_TEST_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/labeling"
ROOT = Path(__file__).resolve().parent.parent
K = 3
CLOSED_CLIENTS = 32
DASHBOARD_TRAINERS = 100  # trainers of the dashboard-at-scale project (the first ones)
DRAIN = 20.0  # seconds the open loop waits for answers after its last arrival
WARM_UP = 3.0  # seconds of closed loop before anything is measured
UNLOADED_SUBMITS, UNLOADED_PAUSE = 100, 0.05  # one trainer alone, before the open loop
CODE_RE = re.compile(rb'data-assignment="([0-9a-f-]{36})"')
CANDIDATE_RE = re.compile(rb'data-candidate="(\d+)"')
WORDS = [
    "the",
    "a",
    "an",
    "answer",
    "question",
    "model",
    "user",
    "should",
    "would",
    "because",
    "however",
    "example",
    "python",
    "list",
    "function",
    "returns",
    "value",
    "error",
    "please",
    "explain",
    "why",
    "how",
    "when",
    "where",
    "it",
    "is",
    "not",
    "clear",
    "that",
    "this",
    "will",
    "work",
    "but",
    "you",
    "can",
    "try",
    "first",
    "install",
    "then",
    "run",
    "quoted",
    "words",
    "numbers",
]


# --- database and data ----------------------------------------------------------------------


def scratch_url() -> str:
    base = os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL)
    return f"{base.rsplit('/', 1)[0]}/{BENCH_DB}"


def fresh_database() -> str:
    base = os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL)
    server = base.rsplit("/", 1)[0]
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    return f"{server}/{BENCH_DB}"


def server_env(db_url: str) -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=db_url,
        DJANGO_SETTINGS_MODULE="labeling.settings",
        LOG_LEVEL="WARNING",
        DEBUG="false",
    )
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
    return env


SERVER_ENV_KEYS = ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "LOG_LEVEL", "REDIS_URL")


def migrate(env: dict) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )


def text(rng: random.Random, chars: int) -> str:
    out, size = [], 0
    while size < chars:
        w = rng.choice(WORDS)
        out.append(w)
        size += len(w) + 1
    return " ".join(out)


def copy_rows(conn: psycopg.Connection, model, rows: list[dict]) -> None:
    """COPY rows into a model's table; absent fields take the model's defaults."""
    from django.db import connection as dj
    from django.utils import timezone

    now = timezone.now()
    fields = list(model._meta.concrete_fields)

    def value(f, row):
        if f.attname in row:
            v = row[f.attname]
        elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            v = now
        else:
            v = f.get_default()  # "" for text fields, None for nullable ones
        return f.get_db_prep_save(v, dj)

    cols = ", ".join(f'"{f.column}"' for f in fields)
    with conn.cursor() as cur, cur.copy(f'COPY "{model._meta.db_table}" ({cols}) FROM STDIN') as cp:
        for row in rows:
            cp.write_row([value(f, row) for f in fields])
    conn.execute(
        f"SELECT setval(pg_get_serial_sequence('\"{model._meta.db_table}\"', 'id'), "
        f'(SELECT COALESCE(MAX(id), 1) FROM "{model._meta.db_table}"))'
    )


@dataclass
class Setup:
    slug: str
    project_id: int
    queue_id: int
    dims: list[str]
    sessions: list[str]  # one session key per trainer, in order
    raw_trainers: list[int]


def load(db_url: str, *, items: int, trainers: int) -> Setup:
    """A pairwise project at k = 3 with `items` items, trainers and their sessions."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils import timezone

    from labeling.accounts.models import User
    from labeling.judging.models import Item, ItemCandidate
    from labeling.judging.services import default_queue, set_queue_overlap
    from labeling.projects.models import Candidate, Membership, Project, Prompt
    from labeling.projects.services import create_project

    now = timezone.now()
    lead = User.objects.create_user("bench-lead", password=None)
    project = create_project(name="Bench queue", created_by=lead, guidelines="Be fair.")
    Project.objects.filter(pk=project.pk).update(gold_rate=0.0, overlap=K)
    project.refresh_from_db()
    queue = default_queue(project)
    set_queue_overlap(queue=queue, overlap=K)
    dims = list(project.active_dimensions().values_list("key", flat=True))

    users = User.objects.bulk_create(
        [
            User(username=f"bench-t{i:05d}", password="!", adult_confirmed_at=now)
            for i in range(trainers)
        ]
        + [User(username=f"bench-raw{i:02d}", password="!") for i in range(CLOSED_CLIENTS)]
    )
    people, raw = users[:trainers], users[trainers:]
    Membership.objects.bulk_create(
        Membership(project=project, user=u, role="trainer", notice_accepted_at=now) for u in users
    )
    # One session each, stored by the configured engine as login() stores it.
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    sessions = []
    for u in people:
        store = store_class()
        store.update(
            {
                SESSION_KEY: str(u.pk),
                BACKEND_SESSION_KEY: settings.AUTHENTICATION_BACKENDS[0],
                HASH_SESSION_KEY: u.get_session_auth_hash(),
            }
        )
        store.set_expiry(86400)
        store.create()
        sessions.append(store.session_key)

    rng = random.Random(7)
    with psycopg.connect(db_url, autocommit=True) as conn:
        copy_rows(
            conn,
            Prompt,
            (
                {
                    "id": i,
                    "project_id": project.pk,
                    "messages": [{"role": "user", "content": text(rng, 200)}],
                    "external_id": f"b-{i}",
                    "consent": "granted",
                }
                for i in range(1, items + 1)
            ),
        )
        copy_rows(
            conn,
            Candidate,
            (
                {"id": 2 * i - 1 + s, "prompt_id": i, "text": text(rng, 600), "model_name": f"m{s}"}
                for i in range(1, items + 1)
                for s in (0, 1)
            ),
        )
        copy_rows(
            conn,
            Item,
            (
                {
                    "id": i,
                    "project_id": project.pk,
                    "queue_id": queue.pk,
                    "prompt_id": i,
                    "open_slots": K,
                }
                for i in range(1, items + 1)
            ),
        )
        copy_rows(
            conn,
            ItemCandidate,
            (
                {"id": 2 * i - 1 + s, "item_id": i, "candidate_id": 2 * i - 1 + s, "slot": s}
                for i in range(1, items + 1)
                for s in (0, 1)
            ),
        )
    # A real project's items were imported long before anyone labels them: vacuum what the
    # COPY left (else autovacuum's pass over it lands in the measured phases) and flush its
    # WAL with a checkpoint now rather than during them.
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        conn.execute("CHECKPOINT")
    return Setup(
        slug=project.slug,
        project_id=project.pk,
        queue_id=queue.pk,
        dims=dims,
        sessions=sessions,
        raw_trainers=[u.pk for u in raw],
    )


def reuse(n_people: int) -> Setup:
    """The Setup of a database loaded by an earlier run."""
    from labeling.accounts.models import Session, User
    from labeling.projects.models import Project

    project = Project.objects.get(name="Bench queue")
    queue = project.queues.get(is_default=True)
    by_user = dict(Session.objects.filter(user__isnull=False).values_list("user_id", "session_key"))
    people = User.objects.filter(username__startswith="bench-t").order_by("username")
    raw = User.objects.filter(username__startswith="bench-raw").order_by("username")
    return Setup(
        slug=project.slug,
        project_id=project.pk,
        queue_id=queue.pk,
        dims=list(project.active_dimensions().values_list("key", flat=True)),
        sessions=[by_user[u.pk] for u in people][:n_people],
        raw_trainers=[u.pk for u in raw],
    )


# --- gunicorn --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(env: dict, port: int, workers: int | None, threads: int | None):
    """gunicorn with the production config (README); `workers`/`threads` override it."""
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "labeling.wsgi:application",
        "--config",
        str(ROOT / "scripts" / "gunicorn.conf.py"),  # the production settings (README)
        "--bind",
        f"127.0.0.1:{port}",
    ]
    if workers:
        cmd += ["--workers", str(workers)]
    if threads:
        cmd += ["--threads", str(threads)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/accounts/login/")
            if c.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    stop_gunicorn(proc)
    raise RuntimeError("gunicorn did not answer within 30 s")


def gunicorn_settings(env: dict, args) -> str:
    """What the config file (under the server's environment) and the overrides amount to."""
    import runpy

    saved = dict(os.environ)
    os.environ.update(env)
    try:
        conf = runpy.run_path(str(ROOT / "scripts" / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    workers = args.workers or conf["workers"]
    if conf["worker_class"] == "gthread":
        return f"{workers} gthread workers × {args.threads or conf['threads']} threads"
    return f"{workers} {conf['worker_class']} workers"


def stop_gunicorn(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


# --- the HTTP trainer --------------------------------------------------------------------------

CSRF = "b" * 32  # an unmasked CSRF secret: the cookie and the header carry the same value


@dataclass
class Trainer:
    session: str
    code: str | None = None
    candidates: list[int] = field(default_factory=list)
    done: bool = False

    @property
    def cookie(self) -> str:
        return f"sessionid={self.session}; csrftoken={CSRF}"


class Client:
    """One keep-alive connection per thread."""

    def __init__(self, port: int):
        self.port = port
        self.local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        return conn

    def request(self, method: str, path: str, body: bytes | None, headers: dict):
        for attempt in (1, 2):
            conn = self._conn()
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                return resp.status, resp.getheader("Location"), data
            except (http.client.HTTPException, OSError):
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def _read_item(t: Trainer, html: bytes) -> None:
    m = CODE_RE.search(html)
    if m is None:
        t.code, t.candidates, t.done = None, [], True
        return
    t.code = m.group(1).decode()
    t.candidates = [int(c) for c in CANDIDATE_RE.findall(html)]


def next_item(client: Client, t: Trainer, slug: str) -> None:
    """Start labeling: POST the project's work URL (claim), follow to the item page."""
    headers = {"Cookie": t.cookie, "X-CSRFToken": CSRF, "Content-Length": "0"}
    status, location, body = client.request("POST", f"/p/{slug}/work/", b"", headers)
    if status == 302:
        status, _, body = client.request("GET", location, None, {"Cookie": t.cookie})
    if status != 200:
        raise RuntimeError(f"next item: HTTP {status}: {body[:300]!r}")
    _read_item(t, body)


def submit(client: Client, t: Trainer, dims: list[str]) -> None:
    """Submit a judgment the htmx way: the response carries the next item."""
    a, b = t.candidates[:2]
    form = {f"score-{c}-{d}": "5" for c in (a, b) for d in dims}
    form.update(preference=f"{a}:2", rationale="", elapsed_ms="30000")
    body = urlencode(form).encode()
    headers = {
        "Cookie": t.cookie,
        "X-CSRFToken": CSRF,
        "HX-Request": "true",
        "Content-Type": "application/x-www-form-urlencoded",
        "Content-Length": str(len(body)),
    }
    status, _, html = client.request("POST", f"/a/{t.code}/submit/", body, headers)
    if status != 200:
        raise RuntimeError(f"submit: HTTP {status}: {html[:300]!r}")
    _read_item(t, html)


# --- loads ------------------------------------------------------------------------------------


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def group_cpu_seconds(pgid: int) -> float:
    """CPU (user + system) used so far by the live processes of a process group (gunicorn's
    master and workers), from /proc: the server's cost, whatever else runs on the machine."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the name: state, ppid, pgrp, …
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def closed_loop(port: int, setup: Setup, trainers: list[Trainer], seconds: float) -> dict:
    client = Client(port)
    counts = [0] * len(trainers)
    errors: list[str] = []
    start_barrier = threading.Barrier(len(trainers) + 1)
    state = {"deadline": 0.0}

    def run(i: int, t: Trainer) -> None:
        try:
            next_item(client, t, setup.slug)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(str(exc))
        start_barrier.wait()
        while time.monotonic() < state["deadline"] and t.code:
            try:
                submit(client, t, setup.dims)
                counts[i] += 1
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(str(exc))
                return

    threads = [threading.Thread(target=run, args=(i, t)) for i, t in enumerate(trainers)]
    for th in threads:
        th.start()
    state["deadline"] = time.monotonic() + 3600
    start_barrier.wait()
    cpu0, t0 = cpu_seconds(), time.monotonic()
    state["deadline"] = t0 + seconds
    for th in threads:
        th.join()
    wall = time.monotonic() - t0
    return {
        "judgments": sum(counts),
        "per_second": sum(counts) / wall,
        "client_cpu": (cpu_seconds() - cpu0) / wall,
        "errors": errors[:5],
        "n_errors": len(errors),
    }


def raw_sql_loop(db_url: str, setup: Setup, seconds: float) -> dict:
    """The physical floor: claim + insert assignment + insert judgment, 32 connections."""
    from django.db import connection as dj
    from django.utils import timezone

    from labeling.judging.models import Assignment, Judgment

    def insert_sql(model, given: list[str]):
        fields = [f for f in model._meta.concrete_fields if f.attname != "id"]
        now = timezone.now()
        defaults = {}
        for f in fields:
            if f.attname in given:
                continue
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                defaults[f.attname] = now
            else:
                defaults[f.attname] = f.get_db_prep_save(f.get_default(), dj)
        cols = ", ".join(f'"{f.column}"' for f in fields)
        marks = ", ".join(f"%({f.attname})s" for f in fields)
        sql = f'INSERT INTO "{model._meta.db_table}" ({cols}) VALUES ({marks}) RETURNING id'
        return sql, defaults

    a_sql, a_defaults = insert_sql(Assignment, ["code", "item_id", "trainer_id", "status"])
    a_defaults.update(
        lease_expires_at=timezone.now() + timezone.timedelta(minutes=30),
        display_order=psycopg.types.json.Jsonb([]),
        finished_at=timezone.now(),
    )
    j_sql, j_defaults = insert_sql(Judgment, ["assignment_id"])
    j_defaults.update(
        strength=0,
        shown_order=psycopg.types.json.Jsonb([]),
        guideline_version=1,
        counts=True,
        time_spent_ms=30000,
    )
    claim_sql = (
        "UPDATE judging_item SET open_slots = open_slots - 1, n_judgments = n_judgments + 1 "
        "WHERE id = (SELECT i.id FROM judging_item i WHERE i.queue_id = %s AND i.open_slots > 0 "
        "AND NOT i.is_gold AND NOT EXISTS (SELECT 1 FROM judging_assignment a "
        "WHERE a.item_id = i.id AND a.trainer_id = %s) "
        "ORDER BY i.priority DESC, i.open_slots, i.id LIMIT 1 FOR UPDATE SKIP LOCKED) "
        "RETURNING id"
    )
    counts = [0] * CLOSED_CLIENTS
    barrier = threading.Barrier(CLOSED_CLIENTS + 1)
    state = {"deadline": 0.0}

    def run(i: int) -> None:
        trainer_id = setup.raw_trainers[i]
        with psycopg.connect(db_url) as conn:
            cur = conn.cursor()
            barrier.wait()
            while time.monotonic() < state["deadline"]:
                cur.execute(claim_sql, (setup.queue_id, trainer_id))
                row = cur.fetchone()
                if row is None:
                    conn.rollback()
                    return
                cur.execute(
                    a_sql,
                    {
                        **a_defaults,
                        "code": uuid.uuid4(),
                        "item_id": row[0],
                        "trainer_id": trainer_id,
                        "status": "submitted",
                    },
                )
                (assignment_id,) = cur.fetchone()
                cur.execute(j_sql, {**j_defaults, "assignment_id": assignment_id})
                conn.commit()
                counts[i] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(CLOSED_CLIENTS)]
    for th in threads:
        th.start()
    state["deadline"] = time.monotonic() + 3600
    barrier.wait()
    t0 = time.monotonic()
    state["deadline"] = t0 + seconds
    for th in threads:
        th.join()
    wall = time.monotonic() - t0
    return {"claims": sum(counts), "per_second": sum(counts) / wall}


def unloaded(port: int, setup: Setup, t: Trainer, n: int = UNLOADED_SUBMITS) -> list[float]:
    """One trainer alone, a pause before each submit: what a request costs on this machine
    with nothing queued before it (the floor under the open loop's percentiles)."""
    client = Client(port)
    if not t.code:
        next_item(client, t, setup.slug)
    times = []
    for _ in range(n):
        if t.code is None:
            break
        time.sleep(UNLOADED_PAUSE)
        start = time.monotonic()
        submit(client, t, setup.dims)
        times.append(time.monotonic() - start)
    return times


def open_loop(port: int, setup: Setup, trainers: list[Trainer], rate: float, seconds: float):
    """Poisson arrivals at `rate`/s; each arrival is the next trainer's next action."""
    client = Client(port)
    rng = random.Random(11)
    arrivals, at = [], 0.0
    while True:
        at += rng.expovariate(rate)
        if at >= seconds:
            break
        arrivals.append(at)
    lat = {"next": [], "submit": []}
    errors: list[str] = []
    lock = threading.Lock()

    def act(t: Trainer, scheduled: float) -> None:
        kind = "submit" if t.code else "next"
        try:
            if kind == "next":
                next_item(client, t, setup.slug)
            else:
                submit(client, t, setup.dims)
        except Exception as exc:  # noqa: BLE001 - reported below
            with lock:
                errors.append(str(exc))
            return
        with lock:
            lat[kind].append(time.monotonic() - scheduled)

    late = 0
    futures = []
    pool = ThreadPoolExecutor(max_workers=96)
    t0 = time.monotonic()
    for n, offset in enumerate(arrivals):
        t = trainers[n % len(trainers)]
        when = t0 + offset
        delay = when - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -0.005:
            late += 1
        futures.append(pool.submit(act, t, when))
    # Bounded: what the server has not answered DRAIN seconds after the last arrival is
    # dropped and counted as unserved (it counts as slower than every answer in the tails).
    drain_until = time.monotonic() + DRAIN
    for f in futures:
        remaining = drain_until - time.monotonic()
        if remaining <= 0:
            break
        # Timeouts and errors are counted below.
        with contextlib.suppress(Exception):
            f.result(timeout=remaining)
    unserved = sum(f.cancel() for f in futures)
    pool.shutdown(wait=True)
    wall = time.monotonic() - t0
    return {
        "arrivals": len(arrivals),
        "achieved_rate": len(arrivals) / wall,
        "next": lat["next"],
        "submit": lat["submit"],
        "errors": errors[:5],
        "n_errors": len(errors),
        "late_dispatch": late,
        "unserved": unserved,
    }


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def ms(x: float) -> str:
    return f"{x * 1000:.1f} ms"


# --- correctness -----------------------------------------------------------------------------


CHECKS = {
    "items over k (counters)": """
        SELECT count(*) FROM judging_item i JOIN judging_queue q ON q.id = i.queue_id
        WHERE i.project_id = %(p)s AND NOT i.is_gold AND i.n_judgments + i.n_leases > q.overlap""",
    "items over k (rows)": """
        SELECT count(*) FROM (SELECT a.item_id FROM judging_assignment a
          JOIN judging_judgment j ON j.assignment_id = a.id AND j.counts
          JOIN judging_item i ON i.id = a.item_id JOIN judging_queue q ON q.id = i.queue_id
          WHERE i.project_id = %(p)s
          GROUP BY a.item_id, q.overlap HAVING count(*) > q.overlap) x""",
    "a trainer twice on an item": """
        SELECT count(*) FROM (SELECT a.item_id, a.trainer_id FROM judging_assignment a
          JOIN judging_item i ON i.id = a.item_id WHERE i.project_id = %(p)s
          GROUP BY a.item_id, a.trainer_id HAVING count(*) > 1) x""",
    "n_judgments differs from rows": """
        SELECT count(*) FROM judging_item i WHERE i.project_id = %(p)s AND i.n_judgments <> (
          SELECT count(*) FROM judging_assignment a JOIN judging_judgment j
          ON j.assignment_id = a.id AND j.counts WHERE a.item_id = i.id)""",
    "n_leases differs from rows": """
        SELECT count(*) FROM judging_item i WHERE i.project_id = %(p)s AND i.n_leases <> (
          SELECT count(*) FROM judging_assignment a
          WHERE a.item_id = i.id AND a.status = 'leased')""",
}


def check(db_url: str, project_id: int) -> dict[str, int]:
    """Every check counts violations in the bench project: all must be 0."""
    with psycopg.connect(db_url) as conn:
        return {
            name: conn.execute(sql, {"p": project_id}).fetchone()[0] for name, sql in CHECKS.items()
        }


# --- the dashboard at scale ------------------------------------------------------------------


def _insert_select(model, given: dict[str, str], n: int) -> tuple[str, list]:
    """INSERT … SELECT over generate_series(1, n) AS g: `given` maps columns to SQL on g;
    every other column takes the model's default."""
    from django.db import connection as dj
    from django.utils import timezone

    now = timezone.now()
    cols, exprs, params = [], [], []
    for f in model._meta.concrete_fields:
        if f.attname == "id":
            continue
        cols.append(f'"{f.column}"')
        if f.attname in given:
            exprs.append(given[f.attname].replace("%", "%%"))
            continue
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            value = now
        else:
            value = f.get_db_prep_save(f.get_default(), dj)
        exprs.append("%s")
        params.append(value)
    table = model._meta.db_table
    sql = (
        f'INSERT INTO "{table}" ({", ".join(cols)}) SELECT {", ".join(exprs)} '
        f"FROM generate_series(1, {int(n)}) AS g"
    )
    return sql, params


def dashboard_at_scale(db_url: str, judgments: int, trainers: list[int]) -> dict:
    """A second project with `judgments` judgments (SQL-generated), and the dashboard's time.

    Items are `judgments / len(trainers)`; every trainer judges every item (k is ignored:
    this measures the aggregates, not the queue). Judgments spread over the last 24 hours.
    """
    from django.db import connection

    from labeling.accounts.models import User
    from labeling.judging.dashboard import project_dashboard
    from labeling.judging.models import Assignment, Item, Judgment
    from labeling.judging.rollups import rebuild_rollups
    from labeling.judging.services import default_queue
    from labeling.projects.models import Membership, Project
    from labeling.projects.services import create_project

    lead = User.objects.get(username="bench-lead")
    project = create_project(name="Dashboard scale", created_by=lead)
    queue = default_queue(project)
    n_trainers = len(trainers)
    n_items = judgments // n_trainers
    judgments = n_items * n_trainers  # every trainer on every item: no partial last item
    Membership.objects.bulk_create(
        Membership(project=project, user_id=u, role="trainer") for u in trainers
    )
    item_sql, item_params = _insert_select(
        Item,
        {
            "project_id": str(project.pk),
            "queue_id": str(queue.pk),
            # The bench project's prompts, reused.
            "prompt_id": "1 + (g - 1) % (SELECT max(id) FROM projects_prompt)",
            "n_judgments": str(n_trainers),
            "open_slots": "0",
        },
        n_items,
    )
    t0 = time.monotonic()
    with psycopg.connect(db_url, autocommit=True) as conn:
        first = conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM judging_item").fetchone()[0]
        conn.execute(item_sql, item_params)
        trainer_array = "ARRAY[" + ",".join(str(u) for u in trainers) + "]::bigint[]"
        a_sql, a_params = _insert_select(
            Assignment,
            {
                "code": "gen_random_uuid()",
                "item_id": f"{first} + (g - 1) / {n_trainers}",
                "trainer_id": f"({trainer_array})[1 + (g - 1) % {n_trainers}]",
                "status": "CASE WHEN g % 20 = 0 THEN 'skipped' ELSE 'submitted' END",
                "lease_expires_at": "now()",
                "finished_at": "now()",
                "display_order": "'[]'::jsonb",
            },
            judgments,
        )
        conn.execute(a_sql, a_params)
        j_sql, j_params = _insert_select(
            Judgment,
            {
                "created_at": "now() - (g % 86400) * interval '1 second'",
                "assignment_id": "a.id",
                "preferred_id": "NULL",
                "strength": "0",
                "time_spent_ms": "5000 + (g * 7919) % 60000",
                "shown_order": "'[]'::jsonb",
                "guideline_version": "1",
                "counts": "true",
            },
            0,
        )
        # Judgments for the submitted assignments just made (one per assignment).
        j_sql = j_sql.replace(
            "FROM generate_series(1, 0) AS g",
            "FROM (SELECT a.id, row_number() OVER () AS g FROM judging_assignment a "
            f"JOIN judging_item i ON i.id = a.item_id WHERE i.project_id = {project.pk} "
            "AND a.status = 'submitted') AS a".replace("%", "%%"),
        )
        conn.execute(j_sql, j_params)
        conn.execute("ANALYZE")
    made = Judgment.objects.filter(assignment__item__project=project).count()
    load_seconds = time.monotonic() - t0
    project = Project.objects.get(pk=project.pk)
    # Written behind the services' back: the dashboard's rollups are rebuilt from the rows,
    # as the migration and `manage.py rebuild_dashboard_rollups` do for existing data.
    t0 = time.monotonic()
    rebuild_rollups(project=project)
    rebuild_seconds = time.monotonic() - t0
    times, queries = [], 0
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):
        with CaptureQueriesContext(connection) as ctx:
            t = time.monotonic()
            project_dashboard(project)
            times.append(time.monotonic() - t)
        queries = len(ctx.captured_queries)
    slowest = max(ctx.captured_queries, key=lambda q: float(q["time"]))
    return {
        "judgments": made,
        "load_seconds": load_seconds,
        "rebuild_seconds": rebuild_seconds,
        "median_seconds": statistics.median(times),
        "queries": queries,
        "slowest_query": (float(slowest["time"]), slowest["sql"][:120]),
    }


# --- in process: CPU and statements per request ----------------------------------------------


def in_process(setup: Setup, n: int, profile: bool, pause: float = 0.0) -> dict:
    """`n` htmx submits (each returns the next item) through the WSGI application, called in
    this process the way gunicorn calls it (no test client, no HTTP parsing): CPU ms per
    submit (time.process_time), SQL statements per submit, optionally a cProfile of CPU.
    With `pause`, each submit follows that many seconds of sleep, as at a server that is not
    busy: the medians then show what cold caches cost."""
    import cProfile
    import io
    import pstats

    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    app = WSGIHandler()
    # A trainer who has not labeled yet (a --reuse run would otherwise keep one trainer
    # whose own earlier judgments the claim has to step over).
    # (Not one of the first DASHBOARD_TRAINERS either: dashboard_at_scale gives each of them
    # ~9,500 judgments of today in its own project.)
    fresh = setup.sessions[DASHBOARD_TRAINERS:]
    t = Trainer(random.choice(fresh))

    def call(method: str, path: str, body: bytes = b"", headers: dict | None = None):
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "HTTP_HOST": "127.0.0.1",
            "REMOTE_ADDR": "127.0.0.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_COOKIE": t.cookie,
            "HTTP_X_CSRFTOKEN": CSRF,
        }
        for name, value in (headers or {}).items():
            key = name.upper().replace("-", "_")
            environ[key if key.startswith("CONTENT_") else f"HTTP_{key}"] = value
        status = []
        chunks = app(environ, lambda s, h, exc_info=None: status.append((s, dict(h))))
        data = b"".join(chunks)
        if hasattr(chunks, "close"):
            chunks.close()
        code, hdrs = int(status[0][0].split()[0]), status[0][1]
        return code, hdrs.get("Location"), data

    def start() -> None:
        """Start labeling: POST the work URL (claim), GET the item page it redirects to."""
        code, location, body = call("POST", f"/p/{setup.slug}/work/")
        if code == 302:
            code, _, body = call("GET", location)
        if code != 200:
            raise RuntimeError(f"next item: HTTP {code}: {body[:300]!r}")
        _read_item(t, body)

    start()

    def one() -> None:
        a, b = t.candidates[:2]
        form = {f"score-{c}-{d}": "5" for c in (a, b) for d in setup.dims}
        form.update(preference=f"{a}:2", rationale="", elapsed_ms="30000")
        status, _, html = call(
            "POST",
            f"/a/{t.code}/submit/",
            urlencode(form).encode(),
            {"HX-Request": "true", "Content-Type": "application/x-www-form-urlencoded"},
        )
        if status != 200:
            raise RuntimeError(f"submit: HTTP {status}: {html[:300]!r}")
        _read_item(t, html)

    for _ in range(20):  # warm up: imports, template compilation, connection, prepares
        one()
    with CaptureQueriesContext(connection) as ctx:  # statements counted apart from timing
        one()
    statements = len(ctx.captured_queries)
    last = [q["sql"][:150] for q in ctx.captured_queries]
    prof = cProfile.Profile(time.process_time) if profile else None  # CPU, not waits
    cpu0 = time.process_time()
    if prof:
        prof.enable()
    walls, cpus = [], []
    for _ in range(n):
        if pause:
            time.sleep(pause)
        w, c = time.monotonic(), time.thread_time()
        one()
        walls.append(time.monotonic() - w)
        cpus.append(time.thread_time() - c)
    if prof:
        prof.disable()
    cpu, wall = time.process_time() - cpu0, sum(walls)  # the pauses left out
    # Starting to label, as a trainer new to the project does: each time another trainer.
    starters = random.sample(fresh, min(n, 200))
    next_cpu0, next_wall0 = time.process_time(), time.monotonic()
    if prof:
        prof.enable()
    for session in starters:
        t.session = session
        start()
    if prof:
        prof.disable()
    next_cpu = (time.process_time() - next_cpu0) / len(starters)
    next_wall = (time.monotonic() - next_wall0) / len(starters)
    if prof:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(70)
        pstats.Stats(prof).sort_stats("tottime").print_stats(30)
    return {
        "cpu_ms": 1000 * cpu / n,
        "next_cpu_ms": 1000 * next_cpu,
        "next_wall_ms": 1000 * next_wall,
        "wall_ms": 1000 * wall / n,
        "wall_p50_ms": 1000 * statistics.median(walls),
        "cpu_p50_ms": 1000 * statistics.median(cpus),
        "statements": statements,
        "last_statements": last,
    }


# --- main ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20, help="closed loop and raw SQL")
    parser.add_argument("--open-seconds", type=float, default=60, help="open loop")
    parser.add_argument("--rate", type=float, default=50, help="open-loop arrivals per second")
    parser.add_argument("--trainers", type=int, default=1500, help="open-loop trainers")
    parser.add_argument("--workers", type=int, help="gunicorn processes (default: its config)")
    parser.add_argument("--threads", type=int, help="gthread threads (GUNICORN_WORKER_CLASS)")
    parser.add_argument(
        "--dashboard-judgments",
        type=int,
        default=1_000_000,
        help="judgments in the dashboard-at-scale project (0: skip)",
    )
    parser.add_argument(
        "--reuse", action="store_true", help="keep the loaded database from a previous run"
    )
    parser.add_argument(
        "--in-process",
        type=int,
        default=0,
        metavar="N",
        help="only time N submits in this process (CPU ms, statements) and stop",
    )
    parser.add_argument("--profile", action="store_true", help="with --in-process: cProfile")
    parser.add_argument(
        "--pause",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="with --in-process: sleep before each submit (cold caches)",
    )
    args = parser.parse_args()
    args.seconds = min(args.seconds, 120)
    args.open_seconds = min(args.open_seconds, 180)

    n_people = CLOSED_CLIENTS + args.trainers
    if args.reuse:
        db_url = scratch_url()
        env = server_env(db_url)
        os.environ.update({k: env[k] for k in SERVER_ENV_KEYS})
        import django

        django.setup()
        setup = reuse(n_people)
        print(f"reusing {BENCH_DB} (earlier runs' judgments stay)")
    else:
        db_url = fresh_database()
        env = server_env(db_url)
        os.environ.update({k: env[k] for k in SERVER_ENV_KEYS})
        t = time.monotonic()
        migrate(env)
        import django

        django.setup()
        setup = load(db_url, items=args.items, trainers=n_people)
        print(
            f"loaded {args.items:,} items (k = {K}) and {n_people:,} trainers "
            f"in {time.monotonic() - t:.1f} s"
        )
    from django.db import connection

    if args.in_process:
        figures = in_process(setup, args.in_process, args.profile, args.pause)
        for sql in figures.pop("last_statements"):
            print("  ", sql)
        print(
            f"in process, {args.in_process} htmx submits (+ next item): "
            f"{figures['cpu_ms']:.1f} ms CPU, {figures['wall_ms']:.1f} ms wall, "
            f"{figures['statements']:.0f} SQL statements per submit; next item (POST + GET): "
            f"{figures['next_cpu_ms']:.1f} ms CPU, {figures['next_wall_ms']:.1f} ms wall"
        )
        print(
            f"submits after a {1000 * args.pause:.0f} ms pause: wall p50 "
            f"{figures['wall_p50_ms']:.2f} ms, own CPU p50 {figures['cpu_p50_ms']:.2f} ms"
        )
        return 0
    connection.close()  # the loader's connection must not hold anything during the loads

    port = free_port()
    proc = start_gunicorn(env, port, args.workers, args.threads)
    try:
        print(f"gunicorn on :{port}: {gunicorn_settings(env, args)}")
        closed_trainers = [Trainer(s) for s in setup.sessions[:CLOSED_CLIENTS]]
        # Warm up first (imports, template compilation, one database connection per thread),
        # then measure with the same trainers (each resumes its open lease).
        closed_loop(port, setup, closed_trainers, WARM_UP)
        server_cpu = group_cpu_seconds(proc.pid)
        closed = closed_loop(port, setup, closed_trainers, args.seconds)
        server_cpu = group_cpu_seconds(proc.pid) - server_cpu
        print(
            f"closed loop, {CLOSED_CLIENTS} trainers, {args.seconds:.0f} s: "
            f"{closed['judgments']:,} judgments, {closed['per_second']:.0f} judgments/s "
            f"(client CPU {closed['client_cpu']:.2f} cores; gunicorn CPU "
            f"{1000 * server_cpu / max(closed['judgments'], 1):.1f} ms per judgment), "
            f"errors {closed['n_errors']} {closed['errors']}"
        )
        alone = unloaded(port, setup, closed_trainers[0])
        print(
            f"unloaded, one trainer, {len(alone)} submits {1000 * UNLOADED_PAUSE:.0f} ms apart: "
            f"p50 {ms(pct(alone, 50))}  p95 {ms(pct(alone, 95))}  max {ms(max(alone))}"
        )
        open_trainers = [Trainer(s) for s in setup.sessions[CLOSED_CLIENTS:]]
        opened = open_loop(port, setup, open_trainers, args.rate, args.open_seconds)
        print(
            f"open loop, {args.rate:.0f}/s over {len(open_trainers):,} trainers, "
            f"{args.open_seconds:.0f} s: {opened['arrivals']:,} arrivals "
            f"({opened['achieved_rate']:.1f}/s), errors {opened['n_errors']} {opened['errors']}, "
            f"late dispatches {opened['late_dispatch']}, "
            f"unserved after a {DRAIN:.0f} s drain {opened['unserved']}"
        )
        if opened["unserved"]:
            print("  (the server fell behind: percentiles below cover answered requests only)")
        for kind, label in (("next", "next item (claim + page)"), ("submit", "submit (+ next)")):
            v = opened[kind]
            print(
                f"  {label:26s} n={len(v):5d}  p50 {ms(pct(v, 50))}  p95 {ms(pct(v, 95))}  "
                f"p99 {ms(pct(v, 99))}  max {ms(max(v) if v else float('nan'))}"
            )
    finally:
        stop_gunicorn(proc)

    raw = raw_sql_loop(db_url, setup, args.seconds)
    print(
        f"raw SQL, {CLOSED_CLIENTS} connections, {args.seconds:.0f} s: {raw['claims']:,} claims, "
        f"{raw['per_second']:.0f} claims/s"
    )
    print(f"ratio app / raw SQL: {closed['per_second'] / raw['per_second']:.3f}")

    problems = check(db_url, setup.project_id)
    for name, n in problems.items():
        print(f"check: {name}: {n}")

    from labeling.accounts.models import User
    from labeling.judging.dashboard import project_dashboard
    from labeling.judging.models import Judgment
    from labeling.projects.models import Project

    project = Project.objects.get(pk=setup.project_id)
    n_judgments = Judgment.objects.filter(assignment__item__project=project).count()
    times = []
    for _ in range(3):
        t = time.monotonic()
        project_dashboard(project)
        times.append(time.monotonic() - t)
    print(f"dashboard selectors over {n_judgments:,} judgments: {ms(statistics.median(times))}")
    if args.dashboard_judgments:
        people = list(
            User.objects.filter(username__startswith="bench-t")
            .order_by("username")
            .values_list("pk", flat=True)[:DASHBOARD_TRAINERS]
        )
        scale = dashboard_at_scale(db_url, args.dashboard_judgments, people)
        print(
            f"dashboard at scale: {scale['judgments']:,} judgments of {len(people)} trainers "
            f"(generated in {scale['load_seconds']:.0f} s, rollups rebuilt in "
            f"{scale['rebuild_seconds']:.0f} s): {ms(scale['median_seconds'])} "
            f"in {scale['queries']} queries; slowest {scale['slowest_query']}"
        )
    print(
        json.dumps(
            {
                "closed_per_second": round(closed["per_second"], 1),
                "raw_per_second": round(raw["per_second"], 1),
                "ratio": round(closed["per_second"] / raw["per_second"], 4),
                "unloaded_submit_p50_ms": round(pct(alone, 50) * 1000, 1),
                "next_p50_ms": round(pct(opened["next"], 50) * 1000, 1),
                "next_p95_ms": round(pct(opened["next"], 95) * 1000, 1),
                "next_p99_ms": round(pct(opened["next"], 99) * 1000, 1),
                "submit_p50_ms": round(pct(opened["submit"], 50) * 1000, 1),
                "submit_p95_ms": round(pct(opened["submit"], 95) * 1000, 1),
                "submit_p99_ms": round(pct(opened["submit"], 99) * 1000, 1),
            }
        )
    )
    return 1 if any(problems.values()) or closed["n_errors"] or opened["n_errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
