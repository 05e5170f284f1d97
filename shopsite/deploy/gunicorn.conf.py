"""gunicorn behind nginx (shopsite/deploy/nginx.conf): `gunicorn -c shopsite/deploy/gunicorn.conf.py`.
Every value can come from the environment.

WEB_SERVER picks the application and the worker: `wsgi` (the default) serves shopsite.wsgi with
sync workers; `asgi` serves shopsite.asgi with uvicorn's worker, where the live endpoints
(shopsite.live) wait for the database on an event loop instead of holding a worker each.
gunicorn stays the process manager either way: the same bind, timeouts, restarts and signals.

Sync workers: nginx buffers every request and response, so a worker only ever talks to nginx on
loopback and is never held by a slow client. Each worker is one database client per alias; the
poolers (shopsite/deploy/pgbouncer.ini) share their server connections among all of them, so
workers can outnumber server connections (README, "Sizing").
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8081")  # loopback: only nginx reaches it
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
WEB_SERVER = os.environ.get("WEB_SERVER", "wsgi")
if WEB_SERVER not in ("wsgi", "asgi"):
    raise SystemExit(f"WEB_SERVER is {WEB_SERVER!r}: wsgi or asgi")
wsgi_app = f"shopsite.{WEB_SERVER}:application"
worker_class = "uvicorn_worker.UvicornWorker" if WEB_SERVER == "asgi" else "sync"
# A request still running after this long is killed, and its worker replaced. Above the
# database's statement_timeout (5 s), which ends a slow query first and answers an error page.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
# X-Forwarded-Proto and -For are believed from nginx on this host only.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# A worker is replaced after this many requests (with jitter, not all at once): bounds leaks.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = max_requests // 10
accesslog = None  # nginx logs every request
errorlog = "-"
proc_name = "shopsite"
