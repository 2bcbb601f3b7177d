"""The API tests' world: two projects, a cast with every role, and a token per user."""

from dataclasses import dataclass, field

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from labeling.api.tokens import create_token
from labeling.datasets.options import ExportOptions
from labeling.datasets.services import run_export, start_export
from labeling.generation.models import ModelEndpoint
from labeling.generation.services import start_generation_job
from labeling.judging.models import Assignment, Judgment
from labeling.judging.services import JudgmentInput, claim_next, submit_judgment
from labeling.projects.models import Membership, Project
from labeling.projects.services import add_member, create_project
from tests.factories import make_item, make_user

ROLES = ("anonymous", "trainer", "outsider", "lead", "researcher", "admin")
# Strings only project B holds: none may appear in an answer about project A.
B_MARKERS = ("bravo-secret", "Bravo secret")
A_MARKERS = ("alpha-prompt", "alpha-response", "Alpha project")


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def exports_dir(tmp_path, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "exports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "exports")},
        },
    }
    return tmp_path / "exports"


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        _, key = create_token(user=user, name="tests")
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def answer_for(assignment: Assignment) -> dict:
    """A complete, valid pairwise answer for the assignment, as the API takes it."""
    project = assignment.item.project
    first = assignment.display_order[0]
    return {
        "preferred": first,
        "strength": 2,
        "scores": {
            str(cid): {d.key: 5 for d in project.active_dimensions()}
            for cid in assignment.display_order
        },
        "rationale": "A is clearer.",
        "elapsed_ms": 1200,
    }


def judge(trainer, assignment: Assignment) -> Judgment:
    project = assignment.item.project
    scores = {
        (cid, d.pk): 4 for cid in assignment.display_order for d in project.active_dimensions()
    }
    return submit_judgment(
        trainer=trainer,
        assignment=assignment,
        answer=JudgmentInput(preferred_id=assignment.display_order[0], strength=1, scores=scores),
    )


@dataclass
class World:
    a: Project
    b: Project
    users: dict
    lease: Assignment  # the trainer's open lease in A
    judgment: Judgment  # the trainer's judgment in A
    endpoint: ModelEndpoint
    job: object
    export: object
    tokens: dict = field(default_factory=dict)


@pytest.fixture
def world(db) -> World:
    lead = make_user("alice_lead")
    lead.user_permissions.add(Permission.objects.get(codename="add_project"))
    trainer = make_user("tom_trainer", adult_confirmed_at=timezone.now())
    researcher = make_user("rita_researcher")
    outsider = make_user("olga_outsider", adult_confirmed_at=timezone.now())
    admin = make_user("ada_admin", is_staff=True, is_superuser=True)
    b_lead = make_user("bob_lead")

    a = create_project(name="Alpha project", created_by=lead, guidelines="Be fair.")
    a.gold_rate = 0
    a.save(update_fields=["gold_rate"])
    add_member(project=a, user=trainer, role=Membership.Role.TRAINER)
    add_member(project=a, user=researcher, role=Membership.Role.RESEARCHER)
    for n in range(3):
        make_item(
            a,
            prompt=f"alpha-prompt {n}?",
            responses=(f"alpha-response {n}a", f"alpha-response {n}b"),
            external_id=f"a-{n}",
        )

    b = create_project(name="Bravo secret project", created_by=b_lead)
    add_member(project=b, user=outsider, role=Membership.Role.TRAINER)
    make_item(b, prompt="bravo-secret prompt", responses=("bravo-secret 1", "bravo-secret 2"))

    # The cast's trainers have passed the first-item gate (its own test resets it).
    Membership.objects.filter(role=Membership.Role.TRAINER).update(
        notice_accepted_at=timezone.now()
    )
    judgment = judge(trainer, claim_next(trainer=trainer, project=a))
    lease = claim_next(trainer=trainer, project=a)

    endpoint = ModelEndpoint.objects.create(
        project=a, name="alpha-endpoint", base_url="http://127.0.0.1:9/v1", model="m"
    )
    job = start_generation_job(project=a, by=lead, endpoints=[endpoint], enqueue=False)
    export = start_export(project=a, user=researcher, options=ExportOptions(), enqueue=False)
    assert run_export(export_id=export.pk) == "done"
    export.refresh_from_db()

    users = {
        "anonymous": None,
        "trainer": trainer,
        "outsider": outsider,
        "lead": lead,
        "researcher": researcher,
        "admin": admin,
    }
    return World(a, b, users, lease, judgment, endpoint, job, export)
