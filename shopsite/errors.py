"""The shop's answers to what goes wrong: a bad request, a form whose CSRF token expired, a Host
it does not serve.

The error pages are templates. Django's own handlers render `templates/404.html` and `403.html`
with the request (the header shows who is logged in) and `500.html` without it, with DEBUG off.
`400.html` is rendered here, without the request too (Django's handler would read the session
and the user for it): a request refused early, or whose session could not be read, may have
neither. shopsite.db.outage answers 503 instead when the database cannot be reached.
"""

import logging

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.template.loader import render_to_string


def bad_request_page() -> HttpResponse:
    """Return the shop's 400 page, rendered without the request: no session, user or cart read."""
    return HttpResponseBadRequest(render_to_string("400.html"))


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Answer a form posted without a valid CSRF token (CSRF_FAILURE_VIEW): 403, saying what to do."""
    return render(request, "403_csrf.html", status=403)


class OneLineWarning(logging.Filter):
    """Log a logger's records as one line at WARNING, without their traceback.

    For requests the shop refuses as it should, which Django logs as errors with a traceback: a
    Host header not in ALLOWED_HOSTS (`django.security.DisallowedHost`) is a scanner or a
    misdirected client, no fault of the shop, and not worth waking anyone for.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True
