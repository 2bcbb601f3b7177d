"""The worker of `benchmarks.bench_generation`: test settings with persistent database
connections, as production has them (`conn_max_age=60` in labeling/settings.py)."""

from tests.settings import *  # noqa: F403

DATABASES["default"]["CONN_MAX_AGE"] = 60  # noqa: F405
