"""Production settings pass Django's deployment checks and send the security headers.

Each check runs `shopsite.settings.production` in a fresh interpreter, as gunicorn would load it:
the servers come from the environment (the local stack's, read by the test settings from
var/stack.env), the secret key is a random one, and the app is behind one proxy (nginx) unless a
test says otherwise.
"""

import json
import os
import secrets
import subprocess
import sys

from django.conf import settings
from django.test import Client

PRODUCTION = "shopsite.settings.production"
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "img-src": "'self' data:",
    "style-src": "'self'",
    "script-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def policy(header: str) -> dict[str, str]:
    """Return a Content-Security-Policy header's directives, {name: sources} (in any order)."""
    return dict(directive.strip().partition(" ")[::2] for directive in header.split(";"))


# Left to each test: what the shell running the tests exported says nothing of production's defaults.
CHOSEN_PER_TEST = {
    "DEBUG",
    "SECRET_KEY",
    "SERVER_TIMING",
    "SECURE_HSTS_PRELOAD",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
}


def _production(*command: str, **env: str | None) -> subprocess.CompletedProcess:
    """Run a command under the production settings, with a fresh secret key and one proxy unless
    given (None: unset)."""
    environment = {key: value for key, value in os.environ.items() if key not in CHOSEN_PER_TEST}
    environment |= {
        "DJANGO_SETTINGS_MODULE": PRODUCTION,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "TRUSTED_PROXY_COUNT": "1",
    } | env
    for name in [name for name, value in environment.items() if value is None]:
        del environment[name]  # a test asking for a variable to be unset
    return subprocess.run(
        [sys.executable, *command],
        capture_output=True,
        text=True,
        env=environment,
        cwd=settings.BASE_DIR,
        timeout=120,
    )


def test_check_deploy_passes_at_warning_level():
    result = _production("manage.py", "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_passes_with_hsts_preload_and_subdomains_opted_in():
    result = _production(
        "manage.py", "check", "--deploy", "--fail-level", "WARNING",
        SECURE_HSTS_PRELOAD="true", SECURE_HSTS_INCLUDE_SUBDOMAINS="true",
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_fails_with_a_weak_secret_key():
    # The same command fails when it should: it is not green whatever the settings.
    result = _production("manage.py", "check", "--deploy", "--fail-level", "WARNING", SECRET_KEY="short")

    assert result.returncode != 0
    assert "security.W009" in result.stderr + result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    environment = {key: value for key, value in os.environ.items() if key not in {"DEBUG", "SECRET_KEY"}}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        capture_output=True,
        text=True,
        env=environment | {"DJANGO_SETTINGS_MODULE": PRODUCTION},
        timeout=60,
    )

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_being_told_how_many_proxies_stand_in_front():
    result = _production("-c", "import django; django.setup()", TRUSTED_PROXY_COUNT=None)

    assert result.returncode != 0
    assert "Set TRUSTED_PROXY_COUNT" in result.stderr


def test_a_negative_proxy_count_is_refused_with_its_name():
    result = _production("-c", "import django; django.setup()", TRUSTED_PROXY_COUNT="-1")

    assert result.returncode != 0
    assert "TRUSTED_PROXY_COUNT is '-1': 0 or more" in result.stderr


PRINT_SETTINGS = """
import json, django
django.setup()
from django.conf import settings as s
names = ["DEBUG", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
         "SECURE_HSTS_PRELOAD", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY",
         "SECURE_CONTENT_TYPE_NOSNIFF", "X_FRAME_OPTIONS", "SECURE_REFERRER_POLICY",
         "SECURE_CROSS_ORIGIN_OPENER_POLICY", "SECURE_PROXY_SSL_HEADER", "SERVER_TIMING",
         "TRUSTED_PROXY_COUNT"]
print(json.dumps({name: getattr(s, name) for name in names}))
"""


def _settings(**env: str | None) -> dict:
    result = _production("-c", PRINT_SETTINGS, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_production_settings_turn_on_https_and_the_security_headers():
    values = _settings()
    expected = {
        "DEBUG": False,
        "SECURE_SSL_REDIRECT": True,
        # They bind every subdomain and browsers' built-in lists: the operator opts in.
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_HSTS_PRELOAD": False,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "X_FRAME_OPTIONS": "DENY",
        "SECURE_REFERRER_POLICY": "same-origin",
        "SECURE_CROSS_ORIGIN_OPENER_POLICY": "same-origin",
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],  # behind the proxy
        "TRUSTED_PROXY_COUNT": 1,
        "SERVER_TIMING": False,
    }

    assert {name: values[name] for name in expected} == expected
    assert values["SECURE_HSTS_SECONDS"] >= 365 * 24 * 3600


def test_production_settings_opt_in_from_the_environment():
    values = _settings(
        SECURE_HSTS_PRELOAD="true", SECURE_HSTS_INCLUDE_SUBDOMAINS="true", SERVER_TIMING="true"
    )

    assert values["SECURE_HSTS_PRELOAD"] is True
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SERVER_TIMING"] is True


def test_without_a_proxy_x_forwarded_proto_is_not_trusted():
    values = _settings(TRUSTED_PROXY_COUNT="0")

    assert values["SECURE_PROXY_SSL_HEADER"] is None


# A request through the whole production middleware stack. /healthz renders no template (the
# production static files need `collectstatic`'s manifest) and only reads the servers' state.
PRINT_RESPONSES = """
import json, django
django.setup()
from django.test import Client
client = Client(SERVER_NAME="localhost")
secure = client.get("/healthz", secure=True)
plain = client.get("/cart/add/")
behind_proxy = client.get("/cart/add/", headers={"x-forwarded-proto": "https"})
probe = client.get("/healthz")
print(json.dumps({
    "secure": [secure.status_code, dict(secure.headers)],
    "plain": [plain.status_code, plain.get("Location")],
    "behind_proxy": behind_proxy.status_code,
    "probe": probe.status_code,
}))
"""


def _answers(**env: str) -> dict:
    result = _production("-c", PRINT_RESPONSES, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_production_response_carries_the_security_headers():
    status, headers = _answers()["secure"]

    assert status in {200, 503}  # the header is what is tested, not the servers' health
    assert headers["Strict-Transport-Security"] == "max-age=31536000"
    assert {name: headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS
    assert policy(headers["Content-Security-Policy"]) == CONTENT_SECURITY_POLICY
    assert "Server-Timing" not in headers  # the servers' figures are not for the public


def test_a_production_response_carries_what_the_environment_opts_into():
    _, headers = _answers(
        SECURE_HSTS_PRELOAD="true", SECURE_HSTS_INCLUDE_SUBDOMAINS="true", SERVER_TIMING="true"
    )["secure"]

    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert "db-default" in headers["Server-Timing"]


def test_production_redirects_plain_http_to_https_but_not_behind_a_tls_proxy_nor_the_probe():
    answers = _answers()

    assert answers["plain"] == [301, "https://localhost/cart/add/"]
    assert answers["behind_proxy"] == 405  # reached the view: POST only
    assert answers["probe"] in {200, 503}  # the load balancer's plain-HTTP health check is answered


def test_without_a_proxy_a_client_claiming_https_is_still_redirected():
    answers = _answers(TRUSTED_PROXY_COUNT="0")

    assert answers["behind_proxy"] == 301  # X-Forwarded-Proto from a client proves nothing


def test_every_environment_sends_the_headers_that_need_no_https(client: Client, db):
    response = client.get("/cart/")

    assert {name: response.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS
    assert policy(response["Content-Security-Policy"]) == CONTENT_SECURITY_POLICY
    assert "Strict-Transport-Security" not in response  # HSTS is production's: it needs HTTPS
