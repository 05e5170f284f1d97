"""Login throttling (django-axes): five wrong passwords for one username from one address lock that
pair out for 15 minutes, twenty from one address across usernames lock the address out, on the
shop's login and the admin's alike, with Redis up or down. The address is the one the trusted
proxies saw (TRUSTED_PROXY_COUNT), never one the client names itself."""

from datetime import timedelta

import pytest
from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse
from django.utils.module_loading import import_string
from hypothesis import given
from hypothesis import strategies as st

from accounts.throttling import client_address
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # tests.factories.UserFactory's
LOGINS = {"shop": reverse("accounts:login"), "admin": reverse("admin:login")}
PROXY = "10.0.0.2"  # nginx, as the app sees it behind the proxy: every client's REMOTE_ADDR
ATTACKER = "203.0.113.66"
ADA_HOME = "198.51.100.7"


def _log_in(
    client: Client,
    url: str,
    username: str,
    password: str,
    *,
    address: str = "192.0.2.1",
    forwarded_for: str | None = None,
):
    headers = {} if forwarded_for is None else {"x-forwarded-for": forwarded_for}
    return client.post(
        url, {"username": username, "password": password}, REMOTE_ADDR=address, headers=headers
    )


def _fail(client: Client, url: str, username: str, times: int, *, address: str = "192.0.2.1") -> list[int]:
    return [_log_in(client, url, username, "wrong", address=address).status_code for _ in range(times)]


def _spray(usernames, *, address: str = "192.0.2.1") -> list[int]:
    """Try one wrong password on each username from one address, each from a fresh client."""
    return [
        _log_in(Client(), LOGINS["shop"], name, "wrong", address=address).status_code for name in usernames
    ]


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def staffer():
    return UserFactory(username="staffer", is_staff=True)


def test_throttling_settings_are_the_ones_promised():
    assert settings.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"
    assert issubclass(import_string(settings.AXES_HANDLER), AxesDatabaseHandler)  # PostgreSQL, not Redis
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_ADDRESS_FAILURE_LIMIT == 20
    assert timedelta(minutes=15) == settings.AXES_COOLOFF_TIME
    # Never the username alone: anyone could then lock any customer out.
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"], ["ip_address"]]
    assert settings.AXES_CLIENT_IP_CALLABLE == "accounts.throttling.client_address"
    assert settings.TRUSTED_PROXY_COUNT == 0  # locally and in tests: REMOTE_ADDR is the client
    middleware = settings.MIDDLEWARE
    # After sessions and auth: it reads the login's user name and turns a refusal into the 429 page.
    assert middleware.index("axes.middleware.AxesMiddleware") > middleware.index(
        "django.contrib.auth.middleware.AuthenticationMiddleware"
    )


@pytest.mark.parametrize("site", LOGINS)
def test_five_wrong_passwords_then_the_right_one_is_refused_with_429(client, staffer, site):
    statuses = _fail(client, LOGINS[site], "staffer", 5)

    response = _log_in(client, LOGINS[site], "staffer", PASSWORD)

    assert statuses == [200, 200, 200, 200, 429]
    assert response.status_code == 429
    assert not _logged_in(client)
    assert "Too many login attempts" in response.content.decode()
    assert "paused for 15 minutes" in response.content.decode()


@pytest.mark.parametrize("site", LOGINS)
def test_four_wrong_passwords_do_not_lock_out(client, staffer, site):
    _fail(client, LOGINS[site], "staffer", 4)

    response = _log_in(client, LOGINS[site], "staffer", PASSWORD)

    assert response.status_code == 302
    assert _logged_in(client)


def test_the_shop_and_the_admin_count_failures_together(client, staffer):
    _fail(client, LOGINS["shop"], "staffer", 3)
    _fail(client, LOGINS["admin"], "staffer", 2)

    assert _log_in(client, LOGINS["admin"], "staffer", PASSWORD).status_code == 429
    assert _log_in(client, LOGINS["shop"], "staffer", PASSWORD).status_code == 429


def test_another_user_from_the_same_address_is_not_locked_out(client, staffer):
    UserFactory(username="colleague")
    _fail(client, LOGINS["shop"], "staffer", 5)

    response = _log_in(Client(), LOGINS["shop"], "colleague", PASSWORD)

    assert response.status_code == 302


def test_the_same_user_from_another_address_is_not_locked_out(client, staffer):
    _fail(client, LOGINS["shop"], "staffer", 5)

    response = _log_in(Client(), LOGINS["shop"], "staffer", PASSWORD, address="198.51.100.7")

    assert response.status_code == 302


def test_the_lockout_ends_after_the_cool_off(client, staffer):
    _fail(client, LOGINS["shop"], "staffer", 5)
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16)
    )

    response = _log_in(client, LOGINS["shop"], "staffer", PASSWORD)

    assert response.status_code == 302
    assert _logged_in(client)


def test_a_good_login_forgets_the_failures_before_it(client, staffer):
    _fail(client, LOGINS["shop"], "staffer", 4)
    assert _log_in(client, LOGINS["shop"], "staffer", PASSWORD).status_code == 302
    client.post(reverse("accounts:logout"))

    statuses = _fail(client, LOGINS["shop"], "staffer", 4)

    assert statuses == [200, 200, 200, 200]


@pytest.mark.parametrize("site", LOGINS)
def test_throttling_works_with_redis_unreachable(client, staffer, settings, site):
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"},  # nothing listens
    }

    statuses = _fail(client, LOGINS[site], "staffer", 5)
    locked = _log_in(client, LOGINS[site], "staffer", PASSWORD)
    other = _log_in(Client(), LOGINS[site], "staffer", PASSWORD, address="198.51.100.7")

    assert statuses == [200, 200, 200, 200, 429]
    assert locked.status_code == 429
    assert other.status_code == 302  # and logging in still works: the session is in PostgreSQL too


def test_a_10000_character_username_is_an_ordinary_failure(client):
    # axes stores the username in a 255-character column: accounts.throttling cuts it to a username's length.
    response = _log_in(client, LOGINS["shop"], "x" * 10_000, "wrong")

    assert response.status_code == 200
    assert AccessAttempt.objects.get().username == "x" * 150


# --- The address across usernames: password spraying ------------------------------------------


def test_one_password_sprayed_over_30_usernames_from_one_address_is_locked_at_20():
    usernames = [UserFactory().username for _ in range(30)]

    statuses = _spray(usernames)
    owner = _log_in(Client(), LOGINS["shop"], usernames[0], PASSWORD)
    elsewhere = _log_in(Client(), LOGINS["shop"], usernames[0], PASSWORD, address="198.51.100.7")

    assert statuses == [200] * 19 + [429] * 11
    assert owner.status_code == 429  # the address is paused, for every account
    assert elsewhere.status_code == 302  # not the accounts: their owners log in from elsewhere


def test_failures_on_several_usernames_below_20_do_not_lock_the_address(staffer):
    # An office behind one address: a few colleagues mistyping do not lock each other out.
    for name in ("anne", "bob", "carl", "dina"):
        _fail(Client(), LOGINS["shop"], name, 4)

    response = _log_in(Client(), LOGINS["shop"], "staffer", PASSWORD)

    assert response.status_code == 302


def test_logging_in_to_ones_own_account_does_not_forget_the_spray_from_that_address():
    UserFactory(username="mallory")
    sprayed = _spray([f"victim{number}" for number in range(19)])

    own = _log_in(Client(), LOGINS["shop"], "mallory", PASSWORD)
    next_try = _spray(["victim19"])

    assert sprayed == [200] * 19
    assert own.status_code == 302  # 19 failures: the address is not locked yet
    assert next_try == [429]  # the good login forgot mallory's failures only, not the address's


# --- The client's address: REMOTE_ADDR, or what the trusted proxies saw -----------------------


def test_without_a_trusted_proxy_a_forged_x_forwarded_for_does_not_change_the_address(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    UserFactory(username="ada")

    # Behind an unconfigured proxy every client is its address; each forgery names another.
    statuses = [
        _log_in(
            Client(), LOGINS["shop"], "ada", "wrong", address=PROXY, forwarded_for=f"198.51.100.{n}"
        ).status_code
        for n in range(5)
    ]

    assert statuses == [200, 200, 200, 200, 429]
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {PROXY}


def test_behind_the_proxy_an_attacker_locking_ada_does_not_lock_ada_out(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    UserFactory(username="ada")

    # nginx appends the address it saw; what the attacker sends stands to its left.
    statuses = [
        _log_in(
            Client(), LOGINS["shop"], "ada", "wrong", address=PROXY, forwarded_for=f"192.0.2.{n}, {ATTACKER}"
        ).status_code
        for n in range(6)
    ]
    ada = _log_in(Client(), LOGINS["shop"], "ada", PASSWORD, address=PROXY, forwarded_for=ADA_HOME)

    assert statuses == [200, 200, 200, 200, 429, 429]
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER}
    assert ada.status_code == 302


def test_ada_logs_in_from_her_address_after_an_attacker_elsewhere_failed_5_times():
    UserFactory(username="ada")
    attacker = _fail(Client(), LOGINS["shop"], "ada", 5, address=ATTACKER)

    response = _log_in(Client(), LOGINS["shop"], "ada", PASSWORD, address=ADA_HOME)

    assert attacker == [200, 200, 200, 200, 429]
    assert response.status_code == 302


def test_behind_the_proxy_spraying_is_counted_under_the_sprayers_address(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    usernames = [f"victim{number}" for number in range(21)]

    statuses = [
        _log_in(Client(), LOGINS["shop"], name, "wrong", address=PROXY, forwarded_for=ATTACKER).status_code
        for name in usernames
    ]
    ada = _log_in(
        Client(), LOGINS["shop"], UserFactory().username, PASSWORD, address=PROXY, forwarded_for=ADA_HOME
    )

    assert statuses == [200] * 19 + [429] * 2
    assert ada.status_code == 302  # the proxy's other clients are not the sprayer


@pytest.mark.parametrize("forwarded_for", ["not-an-address", "", "192.0.2.1:8080", "999.1.1.1"])
def test_a_forwarded_entry_that_is_no_address_counts_under_the_peer_not_a_500(settings, forwarded_for):
    settings.TRUSTED_PROXY_COUNT = 1

    response = _log_in(
        Client(), LOGINS["shop"], "nobody", "wrong", address=PROXY, forwarded_for=forwarded_for
    )

    assert response.status_code == 200
    assert AccessAttempt.objects.get().ip_address == PROXY


addresses = st.ip_addresses().map(str)


@given(
    sent=st.text(),
    client=addresses,
    proxies=st.lists(addresses, min_size=1, max_size=3),
)
def test_the_client_is_the_address_the_first_trusted_proxy_saw_whatever_it_sends(sent, client, proxies):
    # Each proxy appends the address it saw: the first the client's, the next the first proxy's...
    *inner, peer = proxies
    forwarded = ", ".join([part for part in [sent] if part] + [client, *inner])
    request = RequestFactory().get("/", REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR=forwarded)

    with override_settings(TRUSTED_PROXY_COUNT=len(proxies)):
        behind_proxies = client_address(request)
    with override_settings(TRUSTED_PROXY_COUNT=0):
        direct = client_address(request)

    assert behind_proxies == client
    assert direct == peer


@pytest.mark.parametrize("recorded", [3, 30])
def test_a_failed_login_runs_the_same_queries_whatever_the_failures_recorded(
    recorded, django_assert_num_queries
):
    for number in range(recorded):  # failures of other addresses, on other usernames
        AccessAttempt.objects.create(
            username=f"someone{number}",
            ip_address=f"198.51.100.{number}",
            user_agent="",
            failures_since_start=1,
        )
    client = Client()
    client.get(LOGINS["shop"])  # the session and CSRF cookie first: the POST alone is measured

    # Failures counted (the pair, the address), the user, expired attempts looked for, the attempt
    # written (2 savepoints, get_or_create's SELECT and INSERT, 2 releases), counted again (2),
    # the primary's WAL position after the write (read-your-writes).
    with django_assert_num_queries(13):
        assert _log_in(client, LOGINS["shop"], "nobody", "wrong").status_code == 200


# --- The email form of a username: one account, one count -----------------------------------------


@pytest.fixture
def ada():
    """A customer who logs in as "ada" or with her email."""
    user = UserFactory(username="ada", email="Ada.Lovelace@example.com")
    CustomerFactory(user=user, email=user.email)
    return user


def test_failures_with_the_email_and_the_username_count_together(client, ada):
    by_email = _fail(client, LOGINS["shop"], "ada.lovelace@example.com", 3)
    by_name = _fail(client, LOGINS["shop"], "ada", 2)

    assert by_email + by_name == [200, 200, 200, 200, 429]
    assert _log_in(client, LOGINS["shop"], "Ada.Lovelace@example.com", PASSWORD).status_code == 429
    assert _log_in(client, LOGINS["shop"], "ada", PASSWORD).status_code == 429
    assert list(AccessAttempt.objects.values_list("username", flat=True)) == ["ada"]


def test_every_case_and_form_of_the_email_counts_as_the_account(client, ada):
    forms = [
        "ADA.LOVELACE@EXAMPLE.COM",
        "ada.lovelace@example.com",
        "Ada.Lovelace@\uff45xample.com",
        " ada.lovelace@Example.com",
    ]

    statuses = [_log_in(client, LOGINS["shop"], typed, "wrong").status_code for typed in forms]
    locked = _log_in(client, LOGINS["shop"], "Ada.Lovelace@example.com", "wrong")

    assert statuses == [200, 200, 200, 200]
    assert locked.status_code == 429


def test_the_admin_counts_the_email_form_with_the_shop(client, ada):
    _fail(client, LOGINS["shop"], "ada.lovelace@example.com", 3)
    _fail(client, LOGINS["admin"], "ada", 2)

    assert _log_in(client, LOGINS["shop"], "ada.lovelace@example.com", PASSWORD).status_code == 429


def test_a_good_login_by_email_forgets_the_failures_by_username(client, ada):
    _fail(client, LOGINS["shop"], "ada", 4)
    assert _log_in(client, LOGINS["shop"], "ADA.lovelace@example.com", PASSWORD).status_code == 302
    client.post(reverse("accounts:logout"))

    assert _fail(client, LOGINS["shop"], "ada", 4) == [200, 200, 200, 200]


def test_an_email_that_is_no_customers_counts_as_itself_in_lowercase(client):
    _fail(client, LOGINS["shop"], "Nobody@Example.com", 2)
    _fail(client, LOGINS["shop"], "nobody@example.com", 2)

    assert list(AccessAttempt.objects.values_list("username", "failures_since_start")) == [
        ("nobody@example.com", 4)
    ]


def test_the_email_is_looked_up_once_per_attempt(client, ada, django_assert_num_queries):
    client.get(LOGINS["shop"])

    # as a username's failure (13), and the user found by the email: once for axes, though it asks
    # for the name several times, and once by the backend
    with django_assert_num_queries(15):
        assert _log_in(client, LOGINS["shop"], "ada.lovelace@example.com", "wrong").status_code == 200
