"""`make run`'s debug toolbar keeps the project's Server-Timing entries beside its own.

Run under the local settings (DEBUG, the toolbar) in a fresh interpreter, as `manage.py
runserver` loads them, against the local stack's development database; /healthz needs no table.
"""

import os
import subprocess
import sys

from django.conf import settings

REQUEST = (
    "import django; django.setup()\n"
    "from django.test.utils import setup_test_environment; setup_test_environment()\n"
    "from django.test import Client\n"
    "print(Client(REMOTE_ADDR='127.0.0.1').get('/healthz')['Server-Timing'])\n"
)


def test_the_toolbar_adds_its_entries_after_the_projects():
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")} | {
        "DJANGO_SETTINGS_MODULE": "shopsite.settings.local",
        "DEBUG": "true",
        "SERVER_TIMING": "true",
    }
    result = subprocess.run(
        [sys.executable, "-c", REQUEST],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-2000:]
    names = [entry.strip().split(";")[0] for entry in result.stdout.strip().split(",")]
    assert {"db-default", "app"} <= set(names)  # the project's (shopsite.db.timing)
    assert any(name.startswith(("TimerPanel", "SQLPanel")) for name in names)  # the toolbar's
    assert names.index("app") < min(i for i, name in enumerate(names) if "Panel" in name)
