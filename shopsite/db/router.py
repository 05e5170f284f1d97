"""The database router: writes to the primary, reads to a healthy replica, never a stale read
of the client's own writes.

Reads go to a replica only inside a request (or a `replica_reads()` block), and only when none
of these holds, in which case they go to the primary:
- the request is an admin request (staff must see what they just saved);
- the request has written, or the primary connection is inside `transaction.atomic`;
- the client wrote recently and the replica has not replayed that write yet: after a request
  that writes, the response remembers the primary's WAL position in a signed cookie, and later
  requests compare it with the replica's `pg_last_wal_replay_lsn()` (what GitLab's database
  load balancer does);
- no replica is healthy (see shopsite.db.replicas).
The per-request state lives in a ContextVar, so it is right under threads and ASGI alike.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connections

from shopsite.db.replicas import pool

PRIMARY = "default"


@dataclass
class Route:
    """How the current request reads: decided once, at its first read.

    Its fields change only through its methods: `read_alias()` (the router), `note_write()` (the
    routing middleware's write detector) and `fall_back_to_primary()` (shopsite.db.retry).
    """

    pin_primary: bool = False  # admin requests
    required_lsn: int | None = None  # the client's last write, from its cookie
    wrote: bool = False  # a statement on the primary wrote
    replica: str | None = None  # the alias chosen for this request's reads
    caught_up: bool = False  # the replica has replayed the client's last write: drop the cookie
    served: set[str] = field(default_factory=set)  # every alias that served a read, for the header

    def read_alias(self) -> str:
        """Return the alias the next read goes to, choosing the request's replica at its first read."""
        if self.pin_primary or self.wrote or connections[PRIMARY].in_atomic_block:
            alias = PRIMARY
        else:
            if self.replica is None:
                self.replica = self._choose()
            alias = self.replica
        self.served.add(alias)
        return alias

    async def aread_alias(self) -> str:
        """`read_alias()` for the async path (shopsite.live): the same rules, the replica's checks
        made on the event loop. It runs no Django transaction, so only a write pins the primary."""
        if self.pin_primary or self.wrote:
            alias = PRIMARY
        else:
            if self.replica is None:
                self.replica = await self._achoose()
            alias = self.replica
        self.served.add(alias)
        return alias

    def note_write(self) -> None:
        """Send every later read of the request to the primary: it has written."""
        self.wrote = True

    def fall_back_to_primary(self) -> str | None:
        """Read from the primary for the rest of the request; return the replica given up, if any."""
        failed = self.replica if self.replica != PRIMARY else None
        self.replica = PRIMARY
        self.served.discard(failed)  # it answered nothing
        return failed

    def _choose(self) -> str:
        replica = pool.choose()
        if replica is None:
            return PRIMARY
        if self.required_lsn is not None:
            replayed = pool.replay_lsn(replica)
            if replayed is None or replayed < self.required_lsn:
                return PRIMARY  # not caught up with this client's writes yet
            self.caught_up = True
        return replica

    async def _achoose(self) -> str:
        replica = await pool.achoose()
        if replica is None:
            return PRIMARY
        if self.required_lsn is not None:
            replayed = await pool.areplay_lsn(replica)
            if replayed is None or replayed < self.required_lsn:
                return PRIMARY
            self.caught_up = True
        return replica


current_route: ContextVar[Route | None] = ContextVar("shopsite_route", default=None)


@contextmanager
def replica_reads():
    """Let code outside a request (a management command, a script) read from the replicas."""
    token = current_route.set(Route())
    try:
        yield
    finally:
        current_route.reset(token)


class PrimaryReplicaRouter:
    def db_for_read(self, model, **hints):
        route = current_route.get()
        return PRIMARY if route is None else route.read_alias()

    def db_for_write(self, model, **hints):
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints):
        # Replicas hold the primary's rows: an object read from one may relate to one from another.
        aliases = {PRIMARY, *settings.REPLICA_ALIASES}
        return obj1._state.db in aliases and obj2._state.db in aliases

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == PRIMARY
