"""The production topology on loopback: nginx in front of gunicorn (production settings), in front
of the stack's PgBouncers and Redis. ``python -m shopsite.localstack serve`` (``make serve``).

nginx's configuration is ``shopsite/deploy/nginx.conf`` rendered into ``var/web/``; gunicorn's is
``shopsite/deploy/gunicorn.conf.py``. Plain HTTP on loopback: a real deployment terminates TLS in
nginx, and keeps the SSL redirect and HSTS that are turned off here (browsers keep Secure cookies
on http://127.0.0.1, a secure context).
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .config import BASE_DIR, ENV_FILE, HOST, VAR_DIR, StackError
from .processes import check_port_free, find_binary, port_taken, wait

NGINX_TEMPLATE = BASE_DIR / "shopsite" / "deploy" / "nginx.conf"
GUNICORN_CONFIG = BASE_DIR / "shopsite" / "deploy" / "gunicorn.conf.py"
WEB_PORT = int(os.environ.get("STACK_WEB_PORT", "8080"))  # nginx, the address to open
APP_PORT = int(os.environ.get("STACK_APP_PORT", "8081"))  # gunicorn, reached by nginx only
STATIC_ROOT = BASE_DIR / "var" / "static"  # the settings' STATIC_ROOT: collectstatic's output
MEDIA_ROOT = BASE_DIR / "var" / "media"  # the settings' MEDIA_ROOT in development: the demo's pictures


def render(template: Path, values: dict[str, object]) -> str:
    """Fill each {{name}} of a template; a name without a value is an error, not an empty string."""
    text = template.read_text()
    missing = sorted(set(re.findall(r"\{\{(\w+)\}\}", text)) - values.keys())
    if missing:
        raise StackError(f"{template.name}: no value for {', '.join(missing)}")
    return re.sub(r"\{\{(\w+)\}\}", lambda match: str(values[match.group(1)]), text)


@dataclass(frozen=True)
class Nginx:
    directory: Path
    listen_port: int
    app_port: int
    static_root: Path
    media_root: Path = MEDIA_ROOT

    @property
    def conf(self) -> Path:
        return self.directory / "nginx.conf"

    @property
    def pid_file(self) -> Path:
        return self.directory / "nginx.pid"

    @property
    def error_log(self) -> Path:
        return self.directory / "error.log"

    def configure(self) -> None:
        (self.directory / "temp").mkdir(parents=True, exist_ok=True)
        # nginx's workers run as the user who starts it; as root, nginx would pick "nobody",
        # who may not read a checkout inside a private directory.
        user = pwd.getpwuid(os.geteuid()).pw_name
        self.conf.write_text(
            render(
                NGINX_TEMPLATE,
                {
                    "pid_file": self.pid_file,
                    "error_log": self.error_log,
                    "user_directive": f"user {user};" if os.geteuid() == 0 else "",
                    "mime_types": "/etc/nginx/mime.types",
                    "access_log": self.directory / "access.log",
                    "temp_dir": self.directory / "temp",
                    "app_address": f"{HOST}:{self.app_port}",
                    "listen_address": f"{HOST}:{self.listen_port}",
                    "static_root": self.static_root,
                    "media_root": self.media_root,
                },
            )
        )

    def start(self) -> subprocess.Popen:
        binary = find_binary("nginx")
        if binary is None:
            raise StackError("missing nginx: run 'make stack-up' (it installs Debian's nginx when root)")
        check_port_free(self.listen_port, "nginx")
        self.configure()
        test = subprocess.run([binary, "-t", "-q", "-c", str(self.conf)], capture_output=True, text=True)
        if test.returncode != 0:
            raise StackError(f"nginx refused {self.conf}:\n{test.stderr.strip()}")
        process = subprocess.Popen(
            [binary, "-c", str(self.conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if not wait(lambda: port_taken(self.listen_port) or process.poll() is not None, 10) or process.poll():
            raise StackError(f"nginx did not start on port {self.listen_port}: see {self.error_log}")
        return process


def secret_key() -> str:
    """Return the served site's SECRET_KEY, generated and kept in ``var/secret-key`` the first time."""
    path = VAR_DIR / "secret-key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


def production_environment(app_port: int) -> dict[str, str]:
    """The environment of gunicorn: production settings, the stack's servers, plain HTTP."""
    if not ENV_FILE.exists():
        raise StackError("the stack has not been started: run 'make stack-up' first")
    stack = dict(line.split("=", 1) for line in ENV_FILE.read_text().splitlines() if "=" in line)
    return {
        **stack,
        **os.environ,  # what the operator set wins
        "DJANGO_SETTINGS_MODULE": "shopsite.settings.production",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secret_key(),
        "ALLOWED_HOSTS": os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost"),
        # The pictures `make run` seeded, which nginx serves.
        "MEDIA_ROOT": os.environ.get("MEDIA_ROOT", str(MEDIA_ROOT)),
        "TRUSTED_PROXY_COUNT": "1",  # nginx
        "SECURE_SSL_REDIRECT": os.environ.get("SECURE_SSL_REDIRECT", "false"),  # plain HTTP here
        "SECURE_HSTS_SECONDS": os.environ.get("SECURE_HSTS_SECONDS", "0"),
        # No mail server here: emails are printed to gunicorn's output, unless one is named.
        "EMAIL_URL": os.environ.get("EMAIL_URL", "consolemail://"),
        "GUNICORN_BIND": f"{HOST}:{app_port}",
    }


def start_gunicorn(env: dict[str, str], app_port: int) -> subprocess.Popen:
    check_port_free(app_port, "gunicorn")
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen([str(gunicorn), "-c", str(GUNICORN_CONFIG)], cwd=BASE_DIR, env=env)
    if not wait(lambda: port_taken(app_port) or process.poll() is not None, 30) or process.poll():
        raise StackError(f"gunicorn did not start on port {app_port} (its errors are above)")
    return process


def collect_static(env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise StackError(f"collectstatic failed:\n{result.stderr.strip()[-2000:]}")


def serve(web_port: int = WEB_PORT, app_port: int = APP_PORT) -> None:
    """Run nginx and gunicorn in the foreground until Ctrl-C (or SIGTERM), then stop both."""
    env = production_environment(app_port)
    collect_static(env)
    nginx = Nginx(VAR_DIR / "web", web_port, app_port, STATIC_ROOT, Path(env["MEDIA_ROOT"]))
    app = start_gunicorn(env, app_port)
    processes = [app]
    try:
        processes.append(nginx.start())
        print(
            f"localstack: serving http://{HOST}:{web_port}/ "
            f"(nginx -> gunicorn {env.get('WEB_CONCURRENCY', '2')} {env.get('WEB_SERVER', 'wsgi')} workers "
            f"on {app_port}, production "
            "settings -> PgBouncer -> PostgreSQL; Ctrl-C stops)",
            flush=True,
        )
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)  # the foreground process of `make serve`: its children's watcher
        raise StackError("nginx or gunicorn stopped by itself: see their messages above")
    except KeyboardInterrupt:
        pass
    finally:
        stop_processes(processes)
        print("localstack: nginx and gunicorn stopped")


def stop_processes(processes: list[subprocess.Popen]) -> None:
    """Stop the processes, the last started first (SIGTERM, then SIGKILL after 20 s)."""
    for process in reversed(processes):
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
