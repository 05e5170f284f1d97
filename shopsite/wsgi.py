"""WSGI entry point: `gunicorn -c shopsite/deploy/gunicorn.conf.py` (WEB_SERVER=wsgi, the default).
The live endpoints' sync twin (shopsite.live), then Django."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopsite.settings.production")

django_application = get_wsgi_application()  # sets Django up: shopsite.live imports models

from shopsite.live import wsgi  # noqa: E402

application = wsgi(django_application)
