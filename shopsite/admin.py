"""What the apps' admin pages share."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from itertools import chain, islice

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import date_format

from shopsite.db.keyset import keyset_rows
from shopsite.errors import bad_request_page
from shopsite.money import money


class GrowingTableAdmin(admin.ModelAdmin):
    """The changelist of a table that grows with the shop (products, customers, orders, report rows).

    Django counts the whole table on every page to show "N of M"; on a big table that costs more
    than it tells, and the count of the filtered rows is enough.
    """

    show_full_result_count = False


def money_column(field: str, *, description: str | None = None) -> Callable[[object], str]:
    """Return an admin column showing the model field `field` as money (`$1,234.56`, shopsite.money),
    sorted by the field: an entry for `list_display`, or for `readonly_fields` (and `fields`)."""

    def column(obj) -> str:
        return money(getattr(obj, field))

    column.__name__ = field  # its cells keep their class, "field-<name>"
    return admin.display(description=description or field.replace("_", " "), ordering=field)(column)


def moment_column(field: str, *, description: str | None = None) -> Callable[[object], str]:
    """Return an admin column showing the date and time of the model field `field` in short, "6 Dec
    2026, 16:45" (a third narrower than Django's "Dec. 6, 2026, 4:45 p.m."), sorted by the field."""

    def column(obj) -> str:
        value = getattr(obj, field)
        return "-" if value is None else date_format(timezone.localtime(value), "j M Y, H:i")

    column.__name__ = field  # its cells keep their class, "field-<name>"
    return admin.display(description=description or field.replace("_", " "), ordering=field)(column)


# Set on the request while ChangelistExport builds its changelist (admin's API passes nothing else).
_ROWS_ONLY = "_changelist_rows_only"


class ChangelistExport(admin.ModelAdmin):
    """A changelist whose rows can be exported: exactly the rows it shows for a query string (its
    search, every list filter, the date hierarchy and the ordering `o`; every page of them, `p`
    ignored), in its order, read a page per query by key (shopsite.db.keyset).

    Built by admin's own ChangeList from the admin's own settings, so every admin using it follows
    its own filters; only the changelist's count and page of results are not read.
    """

    def get_changelist(self, request, **kwargs):
        changelist = super().get_changelist(request, **kwargs)
        return _rows_only(changelist) if getattr(request, _ROWS_ONLY, False) else changelist

    def changelist_rows(self, request: HttpRequest) -> QuerySet:
        """Return the queryset of every row the changelist shows for the request's query string, in
        its order; raise IncorrectLookupParameters where the changelist would refuse the query."""
        setattr(request, _ROWS_ONLY, True)
        try:
            return self.get_changelist_instance(request).queryset
        finally:
            delattr(request, _ROWS_ONLY)

    def export_columns(self, request: HttpRequest) -> list[str]:
        """Return the columns of an export: every column of the model's table."""
        return [field.attname for field in self.opts.concrete_fields]

    def export_rows(self, request: HttpRequest) -> tuple[list[str], Iterator[tuple]]:
        """Return the export's columns and an iterator over the changelist's rows, CSV_CHUNK_SIZE a
        query.

        The first page is read here, so that whatever refuses the query raises before a response
        starts, not in the middle of its stream: IncorrectLookupParameters (a filter admin
        refuses), KeysetRefused (an ordering a key cannot follow), DataError (a value the database
        refuses, such as a bad regular expression in a `__regex` lookup).
        """
        columns = self.export_columns(request)
        rows = keyset_rows(self.changelist_rows(request), columns, page_size=settings.CSV_CHUNK_SIZE)
        first = list(islice(rows, 1))
        return columns, chain(first, rows)


@cache
def _rows_only(changelist: type[ChangeList]) -> type[ChangeList]:
    """Return `changelist` without its results: it builds its queryset (filters, search, ordering)
    and reads nothing, neither the count nor a page, which an export does not show."""

    def get_results(self, request):
        self.result_count = self.full_result_count = None
        self.result_list = self.queryset

    return type(f"RowsOnly{changelist.__name__}", (changelist,), {"get_results": get_results})


# Admin's date hierarchy reads <field>__year, __month and __day with int() into a date, and
# computes the end of that year, month or day: a number no date has overflows there
# (OverflowError, a 500), and so does the year 9999, whose end would be in the year 10000.
DATE_PARTS = ("__year", "__month", "__day")
MAX_DATE_PART = 9999
MAX_YEAR = 9998


class AdminQueryMiddleware:
    """Answer 400 (the shop's page) to admin query strings that admin would answer with a 500.

    Admin turns query parameters into filters without a form to refuse them first (list filters,
    the date hierarchy, search, autocomplete, and the admins of other apps, such as axes'), so
    they are refused here, once for all of them:
    - a NUL character anywhere: PostgreSQL text cannot hold it (psycopg2 refuses to send it,
      jsonb refuses \\u0000);
    - a year beyond 9998, or a month or day beyond 9999, which the date hierarchy overflows on.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(settings.ADMIN_URL_PREFIX) and any(
            "\x00" in key
            or any("\x00" in value for value in values)
            or (key.endswith(DATE_PARTS) and any(_beyond_any_date(key, value) for value in values))
            for key, values in request.GET.lists()
        ):
            # Answered, not raised: Django logs the 400 in one line, a raised one with a traceback.
            return bad_request_page()
        return self.get_response(request)


def _beyond_any_date(key: str, value: str) -> bool:
    try:
        number = abs(int(value))
    except ValueError:  # not a number (or longer than int() reads): admin refuses it itself
        return False
    return number > (MAX_YEAR if key.endswith("__year") else MAX_DATE_PART)
