"""gunicorn settings for production: `gunicorn -c scripts/gunicorn.conf.py labeling.wsgi`.

A request is mostly Python CPU (the GIL) with short waits on PostgreSQL, so: one process per
core plus one, each with a few threads to overlap those waits (gthread, which also keeps
HTTP connections alive between a trainer's requests). Override with WEB_CONCURRENCY and
WEB_THREADS; bind with GUNICORN_BIND (default 127.0.0.1:8000, behind the reverse proxy).
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", (os.cpu_count() or 1) + 1))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
keepalive = 75  # seconds an idle connection stays open for its next request
backlog = 2048
max_requests = 20_000  # recycle workers now and then (bounded memory growth)
max_requests_jitter = 2_000
accesslog = None  # the reverse proxy logs requests
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "warning")
