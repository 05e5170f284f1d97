"""Running the stack's commands (as PostgreSQL's owner when root), waiting, and checking ports."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

from .config import HOST, WAIT_SECONDS, StackError


def pg_owner() -> pwd.struct_passwd | None:
    """Return the user PostgreSQL runs as when we are root, or None to run as ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise StackError(
            "running as root, and PostgreSQL refuses to run as root, but there is no 'postgres' "
            "user: install Debian's postgresql package or run as an ordinary user"
        ) from None


def as_owner(owner: pwd.struct_passwd | None) -> dict:
    if owner is None:
        return {}
    # cwd "/": the postgres user may not be allowed into the caller's working directory.
    return {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": [], "cwd": "/"}


def reachable_by(owner: pwd.struct_passwd, path: Path) -> bool:
    result = subprocess.run(["test", "-x", str(path)], **as_owner(owner), check=False)
    return result.returncode == 0


def run(cmd: list[str], owner=None, env: dict | None = None, what: str = "") -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, **as_owner(owner), check=False)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        raise StackError(f"{what or cmd[0]} failed:\n{output}")


def wait(check, seconds: float = WAIT_SECONDS) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def find_binary(name: str) -> str | None:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found:
        return found
    # Debian keeps the server binaries out of PATH; prefer the newest major version.
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return candidates[-1] if candidates else None


# ---------------------------------------------------------------------------------------------
# Ports


def port_taken(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def bindable(port: int) -> bool:
    """Whether a server could listen on the port now (both servers set SO_REUSEADDR too)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def check_port_free(port: int, what: str, wait: float = 70) -> None:
    if port_taken(port):
        raise StackError(
            f"port {port} for {what} is taken by another process (another checkout's stack?): "
            "stop it, or choose other ports with STACK_PG_PORT, STACK_REPLICA_PORT, STACK_REDIS_PORT"
        )
    # The stack's ports lie in the kernel's range for outgoing connections: a client connection
    # that just closed may hold one for up to a minute (TIME_WAIT). Wait that out.
    deadline = time.monotonic() + wait
    if not bindable(port):
        print(
            f"localstack: port {port} for {what} is held by a closing connection: waiting up to {wait:.0f}s"
        )
    while not bindable(port):
        if time.monotonic() > deadline:
            raise StackError(
                f"port {port} for {what} stayed in use for {wait:.0f}s though nothing listens on it: "
                "choose other ports with STACK_PG_PORT, STACK_REPLICA_PORT, STACK_REDIS_PORT"
            )
        time.sleep(0.5)
