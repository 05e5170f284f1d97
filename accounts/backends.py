"""Logging in with a customer's email address as well as with a username."""

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from accounts.models import User
from accounts.selectors import user_for_login


class CustomerEmailBackend(ModelBackend):
    """Authenticate a customer by their email (any case or Unicode form, as accounts/emails.py
    compares it) and password.

    Listed after Django's ModelBackend, which tries what was typed as a username first: this one
    answers only for what looks like an email and matched no username. Customers' emails are
    unique (customer_email_unique_ci); users' are not (staff may share one, or have none), so the
    email is looked up among customers. Django-axes throttles both forms under one name
    (accounts/throttling.py).
    """

    def authenticate(self, request: HttpRequest | None, username=None, password=None, **kwargs):
        login = username if username is not None else kwargs.get(User.USERNAME_FIELD)
        if not login or password is None or "@" not in login:
            return None
        user = user_for_login(email=login)
        if user is None:
            # As long as a wrong password takes: the time of an answer tells no one who is a customer.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
