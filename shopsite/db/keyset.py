"""Reading every row of a query a page at a time, each page starting after the last one's key.

What a server-side cursor does for a big export, without the cursor: each page is one ordinary
query, so nothing stays open on the server between pages (a transaction pooler may run the next
page on another server connection), memory stays at one page, and, unlike OFFSET, the hundredth
page costs what the first did (the ordering's index is entered at the key).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import reduce
from operator import and_, or_

from django.db.models import Q, QuerySet


def keyset_rows(queryset: QuerySet, columns: Sequence[str], *, page_size: int) -> Iterator[tuple]:
    """Yield ``queryset.values_list(*columns)`` in the queryset's ordering, page by page.

    The ordering (the queryset's, else its model's) is made total by the primary key. Its fields
    must be NOT NULL: a comparison with NULL is never true, so such rows would be skipped.
    """
    model = queryset.model
    ordering = list(queryset.query.order_by or model._meta.ordering)
    pk = model._meta.pk.attname
    if not {pk, "pk", f"-{pk}", "-pk"} & set(ordering):
        ordering.append(pk)
    keys = [(name.lstrip("-"), name.startswith("-")) for name in ordering]
    keys = [(pk if name == "pk" else name, descending) for name, descending in keys]
    for name, _ in keys:
        if model._meta.get_field(name).null:
            raise ValueError(f"{model.__name__}.{name} may be NULL: it cannot order a keyset page")
    extra = [name for name, _ in keys if name not in columns]
    fetched = queryset.order_by(*ordering).values_list(*columns, *extra)
    position = {name: index for index, name in enumerate([*columns, *extra])}

    after = Q()
    while True:
        page = list(fetched.filter(after)[:page_size])
        for row in page:
            yield row[: len(columns)]
        if len(page) < page_size:
            return
        last = page[-1]
        after = _after(keys, [last[position[name]] for name, _ in keys])


def _after(keys: list[tuple[str, bool]], values: list) -> Q:
    """The rows after `values` in the ordering: (a > x) OR (a = x AND b > y) OR ..., each
    comparison turned round for a descending field."""
    alternatives = []
    for i, (name, descending) in enumerate(keys):
        equal = [Q(**{key: value}) for (key, _), value in zip(keys[:i], values[:i], strict=True)]
        beyond = Q(**{f"{name}__{'lt' if descending else 'gt'}": values[i]})
        alternatives.append(reduce(and_, [*equal, beyond]))
    return reduce(or_, alternatives)
