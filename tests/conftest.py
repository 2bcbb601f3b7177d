"""A fixed cast of users and a pairwise project, plus the loud check for real services."""

import psycopg
import pytest
import redis
from django.utils import timezone

from labeling.projects.models import Membership
from labeling.projects.services import add_member, create_project

from .factories import make_user


def pytest_configure(config):
    # Fail loudly, never fall back: the suite's promise is that it ran on these services.
    from tests import settings as test_settings

    url = test_settings.TEST_DATABASE_URL
    try:
        psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.exit(
            f"PostgreSQL is not answering at {url}: {exc}\n"
            "Start it (see README, 'Running the tests') or set TEST_DATABASE_URL.",
            returncode=3,
        )
    try:
        redis.Redis.from_url(test_settings.TEST_REDIS_URL, socket_timeout=3).ping()
    except redis.exceptions.RedisError as exc:
        pytest.exit(
            f"Redis is not answering at {test_settings.TEST_REDIS_URL}: {exc}\n"
            "Start it (see README, 'Running the tests') or set TEST_REDIS_URL.",
            returncode=3,
        )


@pytest.fixture(autouse=True)
def _media_and_exports(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def lead(db):
    return make_user("lead")


@pytest.fixture
def trainer(db):
    return make_user("trainer", adult_confirmed_at=timezone.now())


@pytest.fixture
def other_trainer(db):
    return make_user("other_trainer", adult_confirmed_at=timezone.now())


@pytest.fixture
def researcher(db):
    return make_user("researcher")


@pytest.fixture
def project(lead, trainer, other_trainer, researcher):
    """A pairwise project with the default rubric, both trainers and a researcher."""
    project = create_project(
        name="Helpful assistant", created_by=lead, guidelines="# Guidelines\nBe fair."
    )
    add_member(project=project, user=trainer, role=Membership.Role.TRAINER)
    add_member(project=project, user=other_trainer, role=Membership.Role.TRAINER)
    add_member(project=project, user=researcher, role=Membership.Role.RESEARCHER)
    accept_notices(project)
    return project


@pytest.fixture
def ranking_project(lead, trainer):
    project = create_project(name="Rank four", created_by=lead, mode="ranking")
    add_member(project=project, user=trainer, role=Membership.Role.TRAINER)
    accept_notices(project)
    return project


def accept_notices(project):
    """The cast's trainers have passed the first-item gate (its own tests reset this)."""
    project.memberships.filter(role=Membership.Role.TRAINER).update(
        notice_accepted_at=timezone.now()
    )
