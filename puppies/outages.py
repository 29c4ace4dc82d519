"""Telling a failure that is a backing service's absence (Redis, PostgreSQL or the S3
media storage down, restarting, refusing connections) from a bug, so clients get
`SERVICE_UNAVAILABLE` with what is missing instead of an `INTERNAL_SERVER_ERROR`
(docs/operations.md, "Failure modes").
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


def missing_service(exc: BaseException | None) -> str | None:
    """'Redis', 'the database' or 'the media storage' when `exc` (or what caused it) is that
    service being unreachable; None for anything else."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, RedisConnectionError | RedisTimeoutError):
            return "Redis"
        if isinstance(exc, _POSTGRES_GONE):
            return "the database"
        # botocore's: no connection, a timeout, a connection closed mid-answer (an S3 error
        # answer, ClientError, is not an outage)
        if isinstance(exc, S3ConnectionError | S3HttpClientError):
            return "the media storage"
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return "the database"
        if isinstance(exc, DBAPIError) and exc.orig is not None:
            exc = exc.orig
            continue
        if isinstance(exc, ConnectionRefusedError | ConnectionResetError):
            return "a backing service"
        exc = exc.__cause__ or exc.__context__
    return None


def unavailable_message(service: str) -> str:
    return (
        f"{service[0].upper()}{service[1:]} is unavailable for the moment, so this could not "
        "be done; retry in a few seconds."
    )
