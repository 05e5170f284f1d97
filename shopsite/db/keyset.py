"""Reading every row of a query a page at a time, each page starting after the last one's key.

What a server-side cursor does for a big export, without the cursor: each page is one ordinary
query, so nothing stays open on the server between pages (a transaction pooler may run the next
page on another server connection), memory stays at one page, and, unlike OFFSET, the hundredth
page costs what the first did (the ordering's index is entered at the key).

The ordering may be what admin's changelist builds: field names (`"-revenue"`, `"pk"`, a path
through relations such as `"category__name"`), `F()` and `OrderBy(F())` expressions, and the
primary key admin adds to make it total. What a key cannot follow is refused before any query,
with the reason (KeysetRefused): a field that may be NULL (a comparison with NULL is never true,
so such rows would be skipped), random order, and other expressions, annotations or transforms.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import reduce
from operator import and_, or_

from django.core.exceptions import FieldDoesNotExist
from django.db.models import F, Model, OrderBy, Q, QuerySet
from django.db.models.constants import LOOKUP_SEP

Key = tuple[str, bool]  # a field's path, and whether it is descending


class KeysetRefused(ValueError):
    """An ordering a keyset page cannot follow; the message says which part and why."""


def keyset_rows(queryset: QuerySet, columns: Sequence[str], *, page_size: int) -> Iterator[tuple]:
    """Return an iterator over ``queryset.values_list(*columns)`` in the queryset's ordering, read
    a page of `page_size` rows per query.

    The ordering (the queryset's, else its model's) is made total by the primary key. It is checked
    here, before any query: one a key cannot follow raises KeysetRefused.
    """
    return _pages(queryset, order_keys(queryset), columns, page_size)


def order_keys(queryset: QuerySet) -> list[Key]:
    """Return the queryset's ordering as (field path, descending) keys, ending with the primary key."""
    model = queryset.model
    query = queryset.query
    if query.extra_order_by:
        raise KeysetRefused("it orders by extra() SQL: order by fields instead")
    ordering = query.order_by or (model._meta.ordering if query.default_ordering else ())
    pk = model._meta.pk.attname
    keys: list[Key] = []
    for part in ordering:
        path, descending = _key(model, part)
        if path not in {seen for seen, _ in keys}:  # a repeated field orders nothing more
            keys.append((path, descending))
        if path == pk:  # unique: anything after it orders nothing more
            return keys
    return [*keys, (pk, False)]


def _pages(queryset: QuerySet, keys: list[Key], columns: Sequence[str], page_size: int) -> Iterator[tuple]:
    extra = [path for path, _ in keys if path not in columns]
    fetched = queryset.order_by(*(f"-{path}" if descending else path for path, descending in keys))
    fetched = fetched.values_list(*columns, *extra)
    position = {name: index for index, name in enumerate([*columns, *extra])}
    after = Q()
    while True:
        page = list(fetched.filter(after)[:page_size])
        for row in page:
            yield row[: len(columns)]
        if len(page) < page_size:
            return
        last = page[-1]
        after = _after(keys, [last[position[path]] for path, _ in keys])


def _key(model: type[Model], part) -> Key:
    """Return one part of an ordering as (field path, descending), or refuse it."""
    if isinstance(part, str):
        if part == "?":
            raise KeysetRefused("random order has no key to page by")
        descending = part.startswith("-")
        return _field_path(model, part.removeprefix("-"), named=True), descending
    if isinstance(part, F):
        return _field_path(model, part.name, named=False), False
    if isinstance(part, OrderBy) and isinstance(part.expression, F):
        return _field_path(model, part.expression.name, named=False), part.descending
    raise KeysetRefused(f"{part!r} is an expression, not a field: order by a field to page by key")


def _field_path(model: type[Model], name: str, *, named: bool) -> str:
    """Return the path to compare for ordering by `name` on `model`: through NOT NULL forward
    relations only, to a NOT NULL field; "pk" as the primary key's own name.

    A relation named by a string (`order_by("customer")`) orders by the related model's own
    ordering in Django: followed when that model has none (its key is the foreign key's column),
    refused otherwise. `F("customer")` and `"customer_id"` are the foreign key's column.
    """
    opts = model._meta
    *through, last = name.split(LOOKUP_SEP)
    path = []
    for part in through:
        field = _not_null_field(opts, part, name)
        if not field.is_relation:
            raise KeysetRefused(f"{name!r} orders by a transform of a field: order by the field itself")
        path.append(field.name)
        opts = field.related_model._meta
    field = _not_null_field(opts, last, name)
    if (
        field.is_relation
        and named
        and last not in {"pk", field.attname}
        and field.related_model._meta.ordering
    ):
        raise KeysetRefused(
            f"{name!r} orders by {field.related_model._meta.object_name}'s own ordering: "
            f"order by {name}{LOOKUP_SEP}<field> instead"
        )
    return LOOKUP_SEP.join([*path, field.attname])


def _not_null_field(opts, part: str, name: str):
    """Return the field `part` of `opts` on the way along `name`, or refuse it."""
    try:
        field = opts.pk if part == "pk" else opts.get_field(part)
    except FieldDoesNotExist:
        raise KeysetRefused(
            f"{name!r} is not a field of {opts.object_name} (an annotation or a transform?): "
            "order by a field to page by key"
        ) from None
    # A reverse or many-to-many relation may give a row more than once.
    if field.is_relation and not (field.concrete and (field.many_to_one or field.one_to_one)):
        raise KeysetRefused(f"{name!r} goes through {field.name}, which may repeat rows")
    if field.null:
        raise KeysetRefused(f"{opts.object_name}.{field.name} may be NULL: it cannot order a keyset page")
    return field


def _after(keys: list[Key], values: list) -> Q:
    """The rows after `values` in the ordering: (a > x) OR (a = x AND b > y) OR ..., each
    comparison turned round for a descending field."""
    alternatives = []
    for i, (name, descending) in enumerate(keys):
        equal = [Q(**{key: value}) for (key, _), value in zip(keys[:i], values[:i], strict=True)]
        beyond = Q(**{f"{name}__{'lt' if descending else 'gt'}": values[i]})
        alternatives.append(reduce(and_, [*equal, beyond]))
    return reduce(or_, alternatives)
