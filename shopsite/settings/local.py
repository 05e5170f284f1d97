"""Settings for a developer's machine: the local stack's servers, DEBUG and the debug toolbar."""

import os
from pathlib import Path

import environ

# `make stack-up` writes the local stack's URLs here; variables already in the environment win.
environ.Env.read_env(Path(__file__).resolve().parents[2] / "var" / "stack.env")
os.environ.setdefault("SECRET_KEY", "local-development-only-not-secret")

from .base import *  # noqa: E402,F403
from .base import BASE_DIR, INSTALLED_APPS, MIDDLEWARE, env  # noqa: E402

DEBUG = env.bool("DEBUG", default=True)
INSTALLED_APPS = [*INSTALLED_APPS, "debug_toolbar"]
# The toolbar, keeping the project's Server-Timing entries beside its own (shopsite/toolbar.py).
MIDDLEWARE = ["shopsite.toolbar.ServerTimingKeepingToolbarMiddleware", *MIDDLEWARE]
INTERNAL_IPS = ["127.0.0.1"]
DEBUG_TOOLBAR_CONFIG = {"SHOW_COLLAPSED": True}
# Static files straight from the apps, so `collectstatic` is not needed to develop.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Emails go to files under var/mail/ (one per email sent), where `make run` says, unless EMAIL_URL
# names a mail server.
if "EMAIL_URL" not in os.environ:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = BASE_DIR / "var" / "mail"
# Uploaded pictures from var/media, as nginx serves them in production.
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=True)
