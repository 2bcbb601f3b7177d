"""Per-endpoint concurrency limit that holds across every worker process and machine.

With a Redis broker: a semaphore in Redis, a sorted set of holders scored by when their lease
ends, so a slot held by a worker that was killed frees itself. Without Redis (the
zero-configuration filesystem broker, one machine): one lock file per slot, `flock`ed; the
kernel releases the lock of a dead process.
"""

import fcntl
import os
import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

# KEYS[1] the semaphore; ARGV: limit, lease seconds, holder token. Uses the server's clock,
# so workers with skewed clocks agree on when a lease ends.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])) + 60)
  return 1
end
return 0
"""

_redis = None


def _redis_client():
    global _redis
    if _redis is None:
        import redis

        _redis = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=10)
    return _redis


def uses_redis() -> bool:
    return str(settings.CELERY_BROKER_URL).startswith(("redis://", "rediss://"))


def semaphore_key(endpoint_id: int) -> str:
    return f"labeling:generation:endpoint:{endpoint_id}:slots"


@contextmanager
def endpoint_slot(
    *, endpoint_id: int, limit: int, lease_seconds: float, wait_seconds: float
) -> Iterator[bool]:
    """Hold one of `limit` slots of the endpoint while the block runs; yields False if none
    came free within `wait_seconds` (the caller should try again later)."""
    if uses_redis():
        with _redis_slot(endpoint_id, limit, lease_seconds, wait_seconds) as got:
            yield got
    else:
        with _file_slot(endpoint_id, limit, wait_seconds) as got:
            yield got


def _pause(waited: float) -> float:
    # Short at first so a freed slot is taken quickly, longer while the endpoint stays busy.
    return min(0.5, 0.02 + waited / 20) * random.uniform(0.5, 1.5)


@contextmanager
def _redis_slot(endpoint_id: int, limit: int, lease: float, wait: float) -> Iterator[bool]:
    client = _redis_client()
    key = semaphore_key(endpoint_id)
    token = uuid.uuid4().hex
    acquire = client.register_script(_ACQUIRE)
    started = time.monotonic()
    got = False
    while True:
        if acquire(keys=[key], args=[limit, lease, token]):
            got = True
            break
        waited = time.monotonic() - started
        if waited >= wait:
            break
        time.sleep(_pause(waited))
    try:
        yield got
    finally:
        if got:
            client.zrem(key, token)


@contextmanager
def _file_slot(endpoint_id: int, limit: int, wait: float) -> Iterator[bool]:
    folder = Path(settings.GENERATION_LOCK_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    held = None
    while held is None:
        for slot in range(limit):
            fd = os.open(folder / f"endpoint-{endpoint_id}-{slot}.lock", os.O_RDWR | os.O_CREAT)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            held = fd
            break
        if held is not None:
            break
        waited = time.monotonic() - started
        if waited >= wait:
            break
        time.sleep(_pause(waited))
    try:
        yield held is not None
    finally:
        if held is not None:
            fcntl.flock(held, fcntl.LOCK_UN)
            os.close(held)
