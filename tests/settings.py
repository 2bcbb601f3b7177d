"""Test settings: the app's settings on PostgreSQL, never silently on SQLite."""

import os

import dj_database_url

from labeling.settings import *  # noqa: F403

TEST_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/labeling"
)
DATABASES = {"default": dj_database_url.parse(TEST_DATABASE_URL)}
DATABASES["default"]["OPTIONS"] = postgres_options()  # noqa: F405 - as in production
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise RuntimeError(f"The test suite runs on PostgreSQL; TEST_DATABASE_URL={TEST_DATABASE_URL}")
DATABASES["default"]["ENGINE"] = "labeling.core.postgres"  # as in production

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CELERY_BROKER_URL = TEST_REDIS_URL
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}  # noqa: F405

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
