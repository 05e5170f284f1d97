"""The local stack: a PostgreSQL primary, its streaming replica(s), a PgBouncer in front of each,
and Redis, under ``var/``.

    python -m shopsite.localstack up [--replicas N]   create what is missing, start what is stopped
    python -m shopsite.localstack down                stop exactly the servers this stack started
    python -m shopsite.localstack status              say what runs where (exit 3 if anything is down)
    python -m shopsite.localstack env                 print ``export ...`` lines for a shell to eval
    python -m shopsite.localstack destroy             stop and delete every server's data
    python -m shopsite.localstack serve               nginx -> gunicorn (production settings) on
                                                      loopback, in the foreground (``make serve``)

Standard library only, so it runs before the virtualenv exists. Ports are loopback-only and not the
standard ones (override with STACK_PG_PORT, STACK_REPLICA_PORT, STACK_POOLER_PORT, STACK_REDIS_PORT;
the directory with STACK_DIR; STACK_POOLING=0 points Django at PostgreSQL directly). When the
effective user is root, PostgreSQL and PgBouncer run as Debian's ``postgres`` user: both refuse
root. When DATABASE_URL is already set, ``up`` starts nothing: those servers are used.

One module per kind of server (``postgres``, ``pgbouncer``, ``redis``, ``web``), beside ``config``
(directories, ports, the settings file), ``processes`` (commands, waits, ports) and ``stack`` (the
commands above).
"""

from .config import ENV_FILE, StackError
from .pgbouncer import start_pooler, stop_pooler
from .postgres import start_server, stop_server
from .processes import check_port_free
from .redis import start_redis, stop_redis
from .stack import urls

__all__ = [
    "ENV_FILE",
    "StackError",
    "check_port_free",
    "start_pooler",
    "start_redis",
    "start_server",
    "stop_pooler",
    "stop_redis",
    "stop_server",
    "urls",
]
