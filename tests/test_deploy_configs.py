"""The deployment's configurations in shopsite/deploy/ render completely, with the settings'
values, and nginx accepts its own (`nginx -t`)."""

import shutil
import subprocess
from urllib.error import HTTPError
from urllib.request import urlopen

import pytest
from django.conf import settings

from shopsite.localstack import pgbouncer, web
from shopsite.localstack.config import StackError
from tests.integration.topology import free_port


def test_pgbouncer_ini_carries_the_pool_and_the_web_timeouts_of_the_settings(tmp_path):
    primary = pgbouncer.Pooler("primary", 56999, 55999, tmp_path)
    replica = pgbouncer.Pooler("replica", 57000, 56000, tmp_path)
    values = pgbouncer.settings()

    ini = pgbouncer.render(primary, values)
    lines = {line.split(" = ", 1)[0]: line.split(" = ", 1)[1] for line in ini.splitlines() if " = " in line}

    assert lines["pool_mode"] == "transaction"
    assert lines["listen_addr"] == "127.0.0.1"
    assert lines["default_pool_size"] == str(settings.DATABASE_POOL["size"])
    assert lines["reserve_pool_size"] == str(settings.DATABASE_POOL["overflow"])
    assert lines["query_wait_timeout"] == str(settings.DATABASE_POOL["timeout"])
    assert lines["server_lifetime"] == str(settings.DATABASE_POOL["recycle"])
    assert f"SET statement_timeout = {settings.DATABASE_STATEMENT_TIMEOUT_MS}" in lines["*"]
    assert f"SET lock_timeout = {settings.DATABASE_LOCK_TIMEOUT_MS}" in lines["*"]
    assert "port=55999" in lines["*"]
    assert "$" not in ini.replace("$$", "")  # every placeholder filled
    replica_wait = [line for line in pgbouncer.render(replica, values).splitlines() if "query_wait" in line]
    assert replica_wait == [f"query_wait_timeout = {settings.REPLICA_POOL_TIMEOUT}"]


def test_a_pool_setting_that_is_not_a_number_is_refused_with_its_name(monkeypatch):
    monkeypatch.setenv("POOL_SIZE", "lots")

    with pytest.raises(StackError, match="POOL_SIZE is 'lots'"):
        pgbouncer.settings()


def test_a_template_placeholder_without_a_value_is_an_error(tmp_path):
    template = tmp_path / "t.conf"
    template.write_text("listen {{listen_address}};\nroot {{static_root}};\n")

    with pytest.raises(StackError, match="no value for static_root"):
        web.render(template, {"listen_address": "127.0.0.1:1"})


@pytest.mark.skipif(
    not shutil.which("nginx", path="/usr/sbin:/usr/bin"), reason="nginx: make stack-up installs it"
)
def test_nginx_accepts_the_rendered_configuration(tmp_path):
    nginx = web.Nginx(tmp_path, 58080, 58081, tmp_path / "static")
    nginx.configure()

    text = nginx.conf.read_text()
    check = subprocess.run(
        [shutil.which("nginx", path="/usr/sbin:/usr/bin"), "-t", "-q", "-c", str(nginx.conf)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert "{{" not in text
    assert check.returncode == 0, check.stderr
    assert "listen 127.0.0.1:58080;" in text
    assert "server 127.0.0.1:58081;" in text
    assert "client_max_body_size 10m;" in text


@pytest.mark.skipif(
    not shutil.which("nginx", path="/usr/sbin:/usr/bin"), reason="nginx: make stack-up installs it"
)
def test_nginx_serves_pictures_with_a_years_cache_and_their_own_type(tmp_path):
    thumbnail = tmp_path / "media" / "products" / "3f" / "3f9ac1-320w.webp"
    thumbnail.parent.mkdir(parents=True)
    thumbnail.write_bytes(b"RIFF\x00\x00\x00\x00WEBPVP8 ")
    port = free_port()
    nginx = web.Nginx(tmp_path / "web", port, free_port(), tmp_path / "static", tmp_path / "media")
    process = nginx.start()
    try:
        with urlopen(f"http://127.0.0.1:{port}/media/products/3f/3f9ac1-320w.webp", timeout=5) as response:
            headers, body = response.headers, response.read()
        with pytest.raises(HTTPError) as missing:
            urlopen(f"http://127.0.0.1:{port}/media/products/3f/none-320w.webp", timeout=5)
    finally:
        web.stop_processes([process])

    assert body == thumbnail.read_bytes()
    assert headers["Content-Type"] == "image/webp"
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert missing.value.code == 404
