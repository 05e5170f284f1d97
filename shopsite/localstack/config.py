"""Where the local stack lives, on which ports, and the settings file it writes for Django."""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
VAR_DIR = Path(os.environ.get("STACK_DIR", BASE_DIR / "var"))
PG_USER = "shopsite"
PG_DATABASE = "shopsite"
HOST = "127.0.0.1"
PG_PORT = int(os.environ.get("STACK_PG_PORT", "55432"))
REPLICA_PORT = int(os.environ.get("STACK_REPLICA_PORT", "55433"))  # replica N listens on +N-1
REDIS_PORT = int(os.environ.get("STACK_REDIS_PORT", "56379"))
# PgBouncer in front of the primary; the one in front of replica N listens on +N.
POOLER_PORT = int(os.environ.get("STACK_POOLER_PORT", "56432"))
# 0: no poolers, Django connects to PostgreSQL directly (to compare; the default path is pooled).
POOLING = os.environ.get("STACK_POOLING", "1").strip().lower() not in {"0", "false", "off"}
ENV_FILE = VAR_DIR / "stack.env"
WAIT_SECONDS = 30


class StackError(Exception):
    """A problem the operator must fix; printed without a traceback."""


def write_env_file(values: dict[str, str]) -> None:
    ENV_FILE.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    ENV_FILE.chmod(0o600)  # it holds the database password
