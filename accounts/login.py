"""The shop's login page: Django's LoginView, without its redirection loop."""

from urllib.parse import urlsplit

from django.contrib.auth import views as auth_views


class LoginView(auth_views.LoginView):
    """Log a customer in; a logged-in customer whose `next` is this very page goes home instead.

    With `redirect_authenticated_user`, Django raises "Redirection loop for authenticated user"
    (a 500) for `/account/login/?next=/account/login/`: a `next` back to this page is dropped, so
    the default, LOGIN_REDIRECT_URL, applies.
    """

    redirect_authenticated_user = True

    def get_redirect_url(self) -> str:
        url = super().get_redirect_url()
        return "" if url and urlsplit(url).path == self.request.path else url
