"""Login throttling (django-axes): the name a login attempt is counted under."""

from __future__ import annotations

from django.http import HttpRequest

from accounts.models import User

USERNAME_MAX_LENGTH = User._meta.get_field(User.USERNAME_FIELD).max_length


def lockout_username(request: HttpRequest, credentials: dict | None) -> str | None:
    """Return the username a login attempt is recorded under (AXES_USERNAME_CALLABLE).

    Cut to the longest username there can be: the login forms do not bound what is typed, and
    axes would otherwise fail (a 500) storing a 10,000-character name in its 255-character column.
    """
    source = credentials or getattr(request, "POST", None) or {}
    username = source.get(User.USERNAME_FIELD)
    if username is None:
        return None
    # PostgreSQL text cannot hold NUL; such a name is no account's anyway.
    return str(username).replace("\x00", "")[:USERNAME_MAX_LENGTH]
