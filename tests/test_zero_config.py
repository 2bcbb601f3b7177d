"""The zero-configuration path: SQLite in WAL mode and kombu's filesystem broker, no servers."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow

ZERO_CONFIG_CHECKS = """
import django; django.setup()
from labeling.celery import app
with app.connection_for_write() as conn:
    queue = conn.SimpleQueue("zero-config-smoke")
    queue.put({"hello": "broker"})
    message = queue.get(timeout=5)
    message.ack()
    print(app.conf.broker_url, message.payload["hello"])
    queue.close()
from labeling.datasets.services import options_for
from labeling.datasets.options import OptionsError
from labeling.projects.models import Project
try:
    options_for(project=Project.objects.get(slug="demo-pairs"), data={})
except OptionsError as exc:
    assert "PostgreSQL" in str(exc)
else:
    raise AssertionError("SQLite exports must be refused with a clear message")
from django.db import connection
with connection.cursor() as c:
    c.execute("PRAGMA journal_mode")
    print(connection.vendor, c.fetchone()[0])

# The labeling loop on SQLite (its claim is two statements, not PostgreSQL's one): claim,
# submit the htmx way, and the next item comes back leased, each item leased once.
from django.test import Client
from labeling.accounts.models import User
from labeling.judging.models import Assignment, Judgment
from tests.judging.helpers import answer_for
client = Client(HTTP_HOST="127.0.0.1")
client.force_login(User.objects.get(username="demo-trainer"))
project = Project.objects.get(slug="demo-pairs")
client.post(f"/p/{project.slug}/notice/", {"adult": "yes", "accept": "yes"})
response = client.post(f"/p/{project.slug}/work/")
first = Assignment.objects.get(code=response.url.rstrip("/").split("/")[-1])
assert sorted(first.display_order) == sorted(first.item.candidates.values_list("pk", flat=True))
response = client.post(
    f"/a/{first.code}/submit/",
    answer_for(first, winner=first.display_order[0]),
    headers={"HX-Request": "true"},
)
assert response.status_code == 200, response.content[:300]
following = Assignment.objects.get(trainer__username="demo-trainer", status="leased")
assert following.item_id != first.item_id
assert f'data-assignment="{following.code}"' in response.content.decode()
assert Judgment.objects.get(assignment=first).preferred_id == first.display_order[0]
print("labeling loop", following.item.n_leases)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_bare_machine_migrates_on_sqlite_and_serves_the_login_page(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "SECRET_KEY"}
    }
    env["LABELING_VAR_DIR"] = str(tmp_path / "var")
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True, cwd=ROOT)
    demo = subprocess.run(
        [*manage, "load_demo"], env=env, check=True, cwd=ROOT, capture_output=True, text=True
    )
    assert "demo-trainer" in demo.stdout
    assert (tmp_path / "var" / "labeling.sqlite3").exists()
    assert (tmp_path / "var" / "secret_key").exists()

    checks = subprocess.run(
        [sys.executable, "-c", ZERO_CONFIG_CHECKS],
        env={**env, "DJANGO_SETTINGS_MODULE": "labeling.settings"},
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.split("\n")
    assert checks[0] == "filesystem:// broker"
    assert checks[1] == "sqlite wal"
    assert checks[2] == "labeling loop 1"

    port = free_port()
    server = subprocess.Popen(
        [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/") as r:
                    html = r.read().decode()
                    status = r.status
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/css/app.css") as r:
                    css_status = r.status
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert status == 200
    assert "Log in" in html
    assert css_status == 200, "static files are served without DEBUG"
