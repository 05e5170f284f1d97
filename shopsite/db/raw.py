"""A read the ORM cannot write (an aggregate over a UNION ALL), routed like a queryset's.

Django runs raw SQL on whatever connection it is given; a `RawRead` asks the router for the
connection a queryset of its `model` would use (a replica, or the primary when the request must
see its own writes), so raw reads follow the same rules as every other read. Its SQL takes named
parameters (`%(name)s`); `shopsite.db.concurrent_reads` can send it over asyncpg too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connections, models, router


@dataclass(frozen=True)
class RawRead:
    sql: str
    params: dict = field(default_factory=dict)
    model: type[models.Model] | None = None  # whose reads it routes like; None: the primary

    def alias(self) -> str:
        return router.db_for_read(self.model) if self.model is not None else "default"

    def rows(self) -> list[tuple]:
        """Run the read and return its rows as tuples."""
        with connections[self.alias()].cursor() as cursor:
            cursor.execute(self.sql, self.params)
            return cursor.fetchall()
