"""`GET /healthz`: up or down for everyone (the load balancer's probe); for staff and holders of
HEALTHZ_TOKEN also whether the primary is up, how far behind each replica is, whether Redis answers."""

import hmac

from django.conf import settings
from django.db import Error as DatabaseError
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django_redis import get_redis_connection
from redis.exceptions import RedisError

from shopsite.db.replicas import LAG_SECONDS_SQL, error_summary

# Lag in bytes, for people, is how far the replica is behind the primary's current position.
REPLICA_STATE_SQL = f"""
    SELECT pg_is_in_recovery(), pg_wal_lsn_diff(%s::pg_lsn, pg_last_wal_replay_lsn()), {LAG_SECONDS_SQL}
"""


def primary_state() -> dict:
    """Return whether the primary answers, and its current WAL position."""
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_is_in_recovery(), pg_current_wal_lsn()::text")
            in_recovery, wal_lsn = cursor.fetchone()
    except DatabaseError as error:
        connections["default"].close()
        return {"up": False, "error": error_summary(error)}
    return {"up": True, "in_recovery": in_recovery, "wal_lsn": wal_lsn}


def replica_state(alias: str, primary_lsn: str | None) -> dict:
    """Return whether a replica answers, and how far it lags the primary in bytes and seconds."""
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute(REPLICA_STATE_SQL, [primary_lsn])
            in_recovery, lag_bytes, lag_seconds = cursor.fetchone()
    except DatabaseError as error:
        connections[alias].close()
        return {"up": False, "error": error_summary(error)}
    return {
        "up": True,
        "in_recovery": in_recovery,
        # The primary's position was read first: a replica that has replayed past it since is not behind.
        "lag_bytes": None if lag_bytes is None else max(int(lag_bytes), 0),
        "lag_seconds": None if lag_seconds is None else float(lag_seconds),
    }


def redis_state() -> dict:
    """Return whether Redis answers a PING."""
    try:
        get_redis_connection("default").ping()
    except RedisError as error:
        return {"up": False, "error": error_summary(error)}
    return {"up": True}


def sent_token(request) -> str:
    """Return the token a request sends: `Authorization: Bearer <token>` or `X-Healthz-Token`."""
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip()
    return request.headers.get("X-Healthz-Token", "").strip()


def may_see_servers(request) -> bool:
    """Return whether a request may read the servers' state: it sends the token, or staff."""
    token = settings.HEALTHZ_TOKEN
    # Bytes, compared in constant time: a str with a non-ASCII character would raise.
    if token and hmac.compare_digest(sent_token(request).encode(), token.encode()):
        return True
    try:
        return request.user.is_staff
    except DatabaseError:  # the user cannot be read with every database down: the public answer
        return False


@never_cache
def healthz(request):
    """Answer up or down, 503 only when the primary is down (replicas and Redis degrade); to staff
    and holders of the token, report every server."""
    primary = primary_state()
    status = 200 if primary["up"] else 503
    report = {"status": "up" if primary["up"] else "down"}
    if may_see_servers(request):
        report |= {
            "primary": primary,
            "replicas": {
                alias: replica_state(alias, primary.get("wal_lsn")) for alias in settings.REPLICA_ALIASES
            },
            "redis": redis_state(),
        }
    return JsonResponse(report, status=status)
