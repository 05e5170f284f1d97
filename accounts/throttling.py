"""Login throttling (django-axes): the name and the address a login attempt is counted under, and
the handler that holds each lockout parameter to its own limit."""

from __future__ import annotations

import ipaddress

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_failure_limit, get_lockout_parameters
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest

from accounts.emails import email_normalise
from accounts.models import Customer, User
from accounts.selectors import user_for_login

USERNAME_MAX_LENGTH = User._meta.get_field(User.USERNAME_FIELD).max_length
EMAIL_MAX_LENGTH = Customer._meta.get_field("email").max_length
# Axes asks for the name several times per attempt: it is looked up once per request.
LOCKOUT_NAMES = "_shopsite_lockout_names"


def lockout_username(request: HttpRequest, credentials: dict | None) -> str | None:
    """Return the username a login attempt is recorded under (AXES_USERNAME_CALLABLE).

    A customer logs in with a username or an email (accounts/backends.py), in any case: every form
    of one account's email counts as that account's username, so that each form does not get its
    own five tries. An email that is no customer's counts as itself, in lowercase.

    Cut to the longest username there can be: the login forms do not bound what is typed, and
    axes would otherwise fail (a 500) storing a 10,000-character name in its 255-character column.
    """
    source = credentials or getattr(request, "POST", None) or {}
    typed = source.get(User.USERNAME_FIELD)
    if typed is None:
        return None
    # PostgreSQL text cannot hold NUL; such a name is no account's anyway.
    typed = str(typed).replace("\x00", "")
    if "@" not in typed or len(typed) > EMAIL_MAX_LENGTH:
        return typed[:USERNAME_MAX_LENGTH]
    names = request.__dict__.setdefault(LOCKOUT_NAMES, {}) if request is not None else {}
    if typed not in names:
        user = user_for_login(email=typed)
        names[typed] = user.get_username() if user is not None else email_normalise(typed).lower()
    return names[typed][:USERNAME_MAX_LENGTH]


def client_address(request: HttpRequest) -> str | None:
    """Return the address of the client a login attempt comes from (AXES_CLIENT_IP_CALLABLE).

    Each of the TRUSTED_PROXY_COUNT proxies in front of the app appends the address it saw to
    X-Forwarded-For (nginx's `$proxy_add_x_forwarded_for`), so the client is the entry that many
    places from the right; whatever stands to its left was sent by the client and proves nothing.
    With no proxy, or a header that did not come through every proxy, REMOTE_ADDR: an address
    the client cannot choose.
    """
    peer = request.META.get("REMOTE_ADDR")
    proxies = settings.TRUSTED_PROXY_COUNT
    if not proxies:
        return peer
    forwarded = [entry.strip() for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if len(forwarded) < proxies:
        return peer
    try:
        return str(ipaddress.ip_address(forwarded[-proxies]))
    except ValueError:  # not written by a proxy of ours: axes stores addresses in an address column
        return peer


def _is_address_only(parameter: str | list[str]) -> bool:
    """Return whether a lockout parameter counts an address's failures across usernames."""
    return ([parameter] if isinstance(parameter, str) else list(parameter)) == ["ip_address"]


class LoginThrottleHandler(AxesDatabaseHandler):
    """Axes' PostgreSQL handler, with a limit per lockout parameter: AXES_FAILURE_LIMIT for a
    username from one address, AXES_ADDRESS_FAILURE_LIMIT for an address across usernames.

    Axes compares the largest count of any parameter with one limit (its maintainers' advice for
    two limits is a handler of one's own, jazzband/django-axes#661).
    """

    def get_failures(self, request: HttpRequest, credentials: dict | None = None) -> int:
        """Return the failures that count: the lockout limit once any parameter reaches its own
        limit, otherwise the most failures of a parameter, short of the lockout limit."""
        limit = get_failure_limit(request, credentials)
        counted = zip(
            get_lockout_parameters(request, credentials),
            self.get_user_attempts(request, credentials),
            strict=True,
        )
        failures = 0
        for parameter, attempts in counted:
            count = attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            own_limit = settings.AXES_ADDRESS_FAILURE_LIMIT if _is_address_only(parameter) else limit
            if count >= own_limit:
                return max(count, limit)
            failures = max(failures, min(count, limit - 1))
        return failures

    def reset_user_attempts(self, request: HttpRequest, credentials: dict | None = None) -> int:
        """Forget, after a good login, the failures of that username from that address only.

        Axes would forget every parameter's, the address's failures on other usernames too: then
        logging in to an account of one's own would reset a password spray from that address.
        """
        attempts = AccessAttempt.objects.filter(
            username=get_client_username(request, credentials), ip_address=request.axes_ip_address
        )
        count, _ = attempts.delete()
        return count
