"""Test settings for a worker that must restore a dead worker's messages within seconds.

kombu's Redis transport puts back unacknowledged messages older than `visibility_timeout`
in a sweep that runs every `unacked_restore_interval` × `unacked_restore_throttle` seconds
(10 × 10 by default); the kill test makes both small.
"""

import os

from tests.settings import *  # noqa: F403

CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "5")),
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
