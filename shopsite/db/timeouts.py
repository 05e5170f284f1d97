"""Longer limits for the transactions of commands that legitimately run long.

Every connection starts with the web's limits: statement_timeout, lock_timeout and
idle_in_transaction_session_timeout, set by PgBouncer's connect_query (shopsite/deploy/
pgbouncer.ini) or, without a pooler, sent by Django as connection options. The report refresh,
the product import and the demo seed raise theirs here, for their own transaction only:
``set_config(..., true)`` is SET LOCAL, gone at commit. A plain SET would stay on the pooled
server connection and reach whichever client the pooler gives it to next.
"""

from __future__ import annotations

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections


def long_transaction(using: str = DEFAULT_DB_ALIAS) -> None:
    """Give the current transaction the commands' limits (COMMAND_*_TIMEOUT_MS)."""
    connection = connections[using]
    if not connection.in_atomic_block:
        raise RuntimeError("long_transaction() raises the limits of a transaction: call it in one")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true), "
            "set_config('idle_in_transaction_session_timeout', %s, true)",
            [
                str(settings.COMMAND_STATEMENT_TIMEOUT_MS),
                str(settings.COMMAND_LOCK_TIMEOUT_MS),
                str(settings.COMMAND_STATEMENT_TIMEOUT_MS),
            ],
        )
