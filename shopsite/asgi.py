"""ASGI entry point: `gunicorn -c shopsite/deploy/gunicorn.conf.py` with WEB_SERVER=asgi (uvicorn's
worker). The async pools' lifespan and the live endpoints (shopsite.live), then Django."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopsite.settings.production")
# Django runs each request's sync code in a thread of that request's own, whose connections no
# later request reuses: closed at the request's end, not left to the garbage collector (the
# poolers keep the server connections; the live endpoints have pools of their own).
os.environ.setdefault("CONN_MAX_AGE", "0")

django_application = get_asgi_application()  # sets Django up: shopsite.live imports models

from shopsite.live import asgi  # noqa: E402

application = asgi(django_application)
