#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys

# Each command's connections say who they are in pg_stat_activity (application_name).
PROCESS_NAMES = {
    "runserver": "web",
    "refresh_reports": "refresh",
    "import_products": "import",
    "seed_demo": "seed",
}
# Commands that need a session of their own on PostgreSQL, not a pooled transaction: they use
# DATABASE_DIRECT_URL when it is set (shopsite/settings/base.py).
SESSION_COMMANDS = {"migrate", "dbshell"}


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopsite.settings.local")
    command = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else ""
    if command:
        os.environ.setdefault("DATABASE_APPLICATION_NAME", f"shopsite-{PROCESS_NAMES.get(command, command)}")
    if command in SESSION_COMMANDS:
        os.environ.setdefault("DATABASE_SESSION", "1")
    # Django's, timing the command's queries and recording the run (shopsite.db.commands).
    from shopsite.db.commands import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
