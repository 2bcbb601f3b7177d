"""gunicorn settings for production: `gunicorn -c scripts/gunicorn.conf.py labeling.wsgi`.

A labeling request is Python CPU (the GIL) with short waits on PostgreSQL, answered in a few
milliseconds. What keeps its tail short:

- sync workers, two per core plus one: a worker takes a connection from the kernel's
  accept queue only when it is free, so a request never waits behind another one in a busy
  worker while a second worker idles (gthread workers pin keep-alive connections to a
  process, which queued requests there). Sync workers need the buffering reverse proxy the
  README puts in front (it also does keep-alive with browsers); for a deployment without
  one, set GUNICORN_WORKER_CLASS=gthread.
- the application is imported once in the master (`preload_app`), and everything it holds
  then is frozen out of the garbage collector (`gc.freeze`), so that a full collection in a
  worker walks only what requests create, not Django's whole object graph.

Override with WEB_CONCURRENCY, WEB_THREADS (gthread only) and GUNICORN_WORKER_CLASS; bind
with GUNICORN_BIND (default 127.0.0.1:8000, behind the reverse proxy).
"""

import gc
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * (os.cpu_count() or 1) + 1))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
threads = int(os.environ.get("WEB_THREADS", "4"))  # gthread only
keepalive = 75  # seconds an idle connection stays open (gthread; sync closes after a reply)
backlog = 2048
preload_app = True
max_requests = 20_000  # recycle workers now and then (bounded memory growth)
max_requests_jitter = 2_000
accesslog = os.environ.get("GUNICORN_ACCESS_LOG")  # unset: the reverse proxy logs requests
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(D)sus'  # %(D)s: time in the worker
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "warning")


def when_ready(server):
    """The master has imported the app: freeze what it holds (workers inherit it)."""
    gc.collect()
    gc.freeze()


def post_fork(server, worker):
    """Each worker: warm what the first request would otherwise build (URL resolver,
    templates), then freeze that too."""
    from django.template.loader import get_template
    from django.urls import get_resolver

    get_resolver()._populate()
    for name in ("base.html", "judging/label.html", "judging/workspace.html"):
        get_template(name)
    gc.collect()
    gc.freeze()
