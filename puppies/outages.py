"""Telling a failure that is a backing service's absence (Redis, PostgreSQL or the S3
media storage down, restarting, refusing connections) from a bug, so clients get
`SERVICE_UNAVAILABLE` with the service named ("PostgreSQL is unavailable for the moment
...") instead of an `INTERNAL_SERVER_ERROR` (docs/operations.md, "Failure modes").
"""

from __future__ import annotations

import asyncpg
from botocore.exceptions import ConnectionError as S3ConnectionError
from botocore.exceptions import HTTPClientError as S3HttpClientError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError

# asyncpg's errors for a server that went away, is shutting down or is starting up
_POSTGRES_GONE = (
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.InterfaceError,
)


POSTGRESQL = "PostgreSQL"
REDIS = "Redis"
S3 = "the S3 media storage"
# Where a bare connection error (refused, reset) was raised tells whose it is: asyncpg
# lets the socket's OSError through unwrapped (SQLAlchemy too), and so does a library
# below botocore at times; the innermost frame of one of these packages decides.
_PACKAGES = {
    "asyncpg": POSTGRESQL,
    "sqlalchemy": POSTGRESQL,
    "redis": REDIS,
    "botocore": S3,
    "aiobotocore": S3,
    "boto3": S3,
}


def missing_service(exc: BaseException | None) -> str | None:
    """'PostgreSQL', 'Redis' or 'the S3 media storage' when `exc` (or what caused it) is
    that service being unreachable ('a backing service' for a refused or reset connection
    raised outside their clients); None for anything else."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, RedisConnectionError | RedisTimeoutError):
            return REDIS
        if isinstance(exc, _POSTGRES_GONE):
            return POSTGRESQL
        # botocore's: no connection, a timeout, a connection closed mid-answer (an S3 error
        # answer, ClientError, is not an outage)
        if isinstance(exc, S3ConnectionError | S3HttpClientError):
            return S3
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return POSTGRESQL
        if isinstance(exc, DBAPIError) and exc.orig is not None:
            exc = exc.orig
            continue
        if isinstance(exc, ConnectionRefusedError | ConnectionResetError):
            return _raised_in(exc) or "a backing service"
        exc = exc.__cause__ or exc.__context__
    return None


def _raised_in(exc: BaseException) -> str | None:
    """The service whose client library `exc` was raised in (its traceback's innermost
    frame of one of _PACKAGES), if any."""
    modules: list[str] = []
    tb = exc.__traceback__
    while tb is not None:
        modules.append(str(tb.tb_frame.f_globals.get("__name__", "")))
        tb = tb.tb_next
    for module in reversed(modules):
        service = _PACKAGES.get(module.partition(".")[0])
        if service is not None:
            return service
    return None


def unavailable_message(service: str) -> str:
    return (
        f"{service[0].upper()}{service[1:]} is unavailable for the moment, so this could not "
        "be done; retry in a few seconds."
    )
