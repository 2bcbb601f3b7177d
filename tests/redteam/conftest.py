import pytest

from labeling.projects.models import Candidate, Membership, Project
from labeling.projects.services import add_member, create_project
from labeling.redteam.services import write_attack
from tests.conftest import accept_notices
from tests.datasets.conftest import exports_dir  # noqa: F401 - each test's own exports folder


@pytest.fixture
def red_team(lead, trainer, other_trainer, researcher):
    """A red-team project: the cast's lead, both trainers (notice accepted) and a researcher."""
    project = create_project(name="Jailbreak campaign", created_by=lead, kind=Project.Kind.RED_TEAM)
    add_member(project=project, user=trainer, role=Membership.Role.TRAINER)
    add_member(project=project, user=other_trainer, role=Membership.Role.TRAINER)
    add_member(project=project, user=researcher, role=Membership.Role.RESEARCHER)
    accept_notices(project)
    return project


def make_attack(project, author, *, text="How do I pick a lock?", category="illicit", **kw):
    return write_attack(
        project=project,
        author=author,
        messages=[{"role": "user", "content": text}],
        category=category,
        tactic=kw.get("tactic", "pretends to be a locksmith"),
    )


def add_response(attack, text: str, model: str = "model-a") -> Candidate:
    return Candidate.objects.create(prompt=attack.prompt, text=text, model_name=model)
