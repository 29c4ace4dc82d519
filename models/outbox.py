"""The transactional outbox: one `outbox` table per domain schema, same shape everywhere.

A domain that changes its tables and wants the rest of the system to hear about it calls
`emit(session, "<schema>", "<event.type>", payload)` inside the transaction that makes the
change. The event row commits or rolls back with the change; the relay (workers/relay.py)
turns committed rows into arq jobs. See docs/events.md.

Why one table per domain schema rather than one shared table: each domain keeps writing
only its own schema (DESIGN.md, data ownership), a domain can be moved to its own database
without touching the others, and a slow consumer of one domain's events never makes
another domain's outbox scan longer. The relay scans every `<schema>.outbox` that exists.

A domain creates its tables in its own migration with `outbox_ddl("<schema>")` and then
`outbox_trace_ddl("<schema>")`; that also creates `<schema>.processed_events`, the ledger
`workers/idempotency.py` uses to make a consumer's database effects happen once.

Each row also records the W3C `traceparent` and the `request_id` of the work that wrote it
(the span `outbox <event type>`, a child of the request's), so the job the event becomes
continues the request's trace and logs under its request id (docs/operations.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from opentelemetry.trace import SpanKind
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    PrimaryKeyConstraint,
    Table,
    Text,
    column,
    delete,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.selectable import TextualSelect

from models.db import DOMAIN_SCHEMAS, Base
from puppies.observability.context import current_traceparent, request_id
from puppies.observability.tracing import tracer

# pg_notify channel: an AFTER INSERT trigger notifies it with the schema name. PostgreSQL
# delivers notifications only when the transaction commits, so a wake-up always means
# "there are committed rows to relay".
OUTBOX_CHANNEL = "puppies_outbox"

_OUTBOXES: dict[str, Table] = {}
_PROCESSED: dict[str, Table] = {}


def _check_schema(schema: str) -> None:
    if schema not in DOMAIN_SCHEMAS:
        raise ValueError(f"unknown domain schema {schema!r}; expected one of {DOMAIN_SCHEMAS}")


def outbox_table(schema: str) -> Table:
    """The `<schema>.outbox` table (built once per schema on the shared metadata)."""
    _check_schema(schema)
    table = _OUTBOXES.get(schema)
    if table is None:
        table = Table(
            "outbox",
            Base.metadata,
            Column("id", BigInteger, primary_key=True, server_default=text("public.next_id()")),
            Column("event_type", Text, nullable=False),
            Column("aggregate_id", BigInteger, nullable=True),
            Column("payload", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
            Column(
                "created_at", DateTime(timezone=True), nullable=False, server_default=func.now()
            ),
            Column("dispatched_at", DateTime(timezone=True), nullable=True),
            Column("traceparent", Text, nullable=True),
            Column("request_id", Text, nullable=True),
            Index(
                f"ix_{schema}_outbox_pending", "id", postgresql_where=text("dispatched_at IS NULL")
            ),
            schema=schema,
        )
        _OUTBOXES[schema] = table
    return table


def processed_table(schema: str) -> Table:
    """`<schema>.processed_events`: (consumer, event id) pairs whose effects committed."""
    _check_schema(schema)
    table = _PROCESSED.get(schema)
    if table is None:
        table = Table(
            "processed_events",
            Base.metadata,
            Column("consumer", Text, nullable=False),
            Column("event_id", Text, nullable=False),
            Column(
                "processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()
            ),
            PrimaryKeyConstraint("consumer", "event_id", name=f"pk_{schema}_processed_events"),
            schema=schema,
        )
        _PROCESSED[schema] = table
    return table


def outbox_ddl(schema: str) -> list[str]:
    """SQL that creates `<schema>.outbox`, its notify trigger and `<schema>.processed_events`.

    For a domain's first migration: `for sql in outbox_ddl("feed"): op.execute(sql)`.
    """
    _check_schema(schema)
    return [
        f"""
        CREATE TABLE {schema}.outbox (
            id bigint NOT NULL DEFAULT public.next_id(),
            event_type text NOT NULL,
            aggregate_id bigint,
            payload jsonb NOT NULL DEFAULT '{{}}'::jsonb,
            created_at timestamptz NOT NULL DEFAULT now(),
            dispatched_at timestamptz,
            CONSTRAINT pk_outbox PRIMARY KEY (id)
        )
        """,
        f"CREATE INDEX ix_{schema}_outbox_pending ON {schema}.outbox (id) "
        "WHERE dispatched_at IS NULL",
        f"""
        CREATE OR REPLACE FUNCTION {schema}.outbox_notify() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{OUTBOX_CHANNEL}', TG_TABLE_SCHEMA);
            RETURN NULL;
        END
        $$
        """,
        f"CREATE TRIGGER outbox_notify AFTER INSERT ON {schema}.outbox "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {schema}.outbox_notify()",
        f"""
        CREATE TABLE {schema}.processed_events (
            consumer text NOT NULL,
            event_id text NOT NULL,
            processed_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_{schema}_processed_events PRIMARY KEY (consumer, event_id)
        )
        """,
    ]


def outbox_trace_ddl(schema: str) -> list[str]:
    """SQL that adds the trace columns (`traceparent`, `request_id`) to `<schema>.outbox`.

    A domain's outbox needs them: run it in the migration after the one with `outbox_ddl`.
    """
    _check_schema(schema)
    return [
        f"ALTER TABLE {schema}.outbox ADD COLUMN IF NOT EXISTS traceparent text, "
        "ADD COLUMN IF NOT EXISTS request_id text"
    ]


def outbox_trace_drop_ddl(schema: str) -> list[str]:
    _check_schema(schema)
    return [
        f"ALTER TABLE {schema}.outbox DROP COLUMN IF EXISTS traceparent, "
        "DROP COLUMN IF EXISTS request_id"
    ]


def outbox_drop_ddl(schema: str) -> list[str]:
    _check_schema(schema)
    return [
        f"DROP TABLE IF EXISTS {schema}.processed_events",
        f"DROP TABLE IF EXISTS {schema}.outbox",
        f"DROP FUNCTION IF EXISTS {schema}.outbox_notify()",
    ]


@dataclass(frozen=True)
class Event:
    """One committed outbox row as consumers see it. `id` is "<schema>:<row id>", unique."""

    id: str
    type: str
    schema: str
    aggregate_id: int | None
    payload: dict[str, Any] = field(default_factory=dict)
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    traceparent: str | None = None
    request_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The wire form put into arq jobs (plain data, stable across deploys)."""
        return {
            "id": self.id,
            "type": self.type,
            "schema": self.schema,
            "aggregate_id": self.aggregate_id,
            "payload": self.payload,
            "occurred_at": self.occurred_at.isoformat(),
            "traceparent": self.traceparent,
            "request_id": self.request_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        return cls(
            id=str(data["id"]),
            type=str(data["type"]),
            schema=str(data["schema"]),
            aggregate_id=data.get("aggregate_id"),
            payload=dict(data.get("payload") or {}),
            occurred_at=datetime.fromisoformat(data["occurred_at"]),
            traceparent=data.get("traceparent"),
            request_id=data.get("request_id"),
        )


@contextmanager
def producing(schema: str, event_type: str) -> Iterator[dict[str, str | None]]:
    """The producer span `outbox <event_type>` (a child of the current one) for writing one
    event row, and the row's trace fields taken inside it: `traceparent` and `request_id`,
    as every outbox row carries them. `emit` writes with it, and so do the writes whose
    event row is part of one SQL statement of their own (resolvers/posts: a like, a new
    post, a comment)."""
    with tracer().start_as_current_span(
        f"outbox {event_type}",
        kind=SpanKind.PRODUCER,
        attributes={"messaging.system": "puppies.outbox", "messaging.destination.name": schema},
    ):
        yield {"traceparent": current_traceparent(), "request_id": request_id()}


async def emit(
    session: AsyncSession,
    schema: str,
    event_type: str,
    payload: dict[str, Any] | None = None,
    *,
    aggregate_id: int | None = None,
) -> int:
    """Write one event row in the caller's transaction; returns the row id.

    Nothing is published here: the row becomes visible to the relay only when the caller
    commits, and disappears with a rollback. The row carries the trace and request id of
    the caller (a producer span `outbox <event_type>`, child of the current one).
    """
    table = outbox_table(schema)
    with producing(schema, event_type) as trace:
        result = await session.execute(
            insert(table)
            .values(
                event_type=event_type, aggregate_id=aggregate_id, payload=payload or {}, **trace
            )
            .returning(table.c.id)
        )
    return int(result.scalar_one())


# `<schema>.outbox` -> the statement that claims and marks a batch (built once per schema)
_DISPATCH: dict[str, TextualSelect] = {}


def _dispatch_statement(schema: str) -> TextualSelect:
    _check_schema(schema)
    statement = _DISPATCH.get(schema)
    if statement is None:
        statement = text(
            f"UPDATE {schema}.outbox AS o SET dispatched_at = now() "
            f"WHERE o.id IN (SELECT id FROM {schema}.outbox WHERE dispatched_at IS NULL "
            "ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED) "
            "RETURNING o.id, o.event_type, o.aggregate_id, o.payload, o.created_at, "
            "o.traceparent, o.request_id"
        ).columns(
            column("id", BigInteger),
            column("event_type", Text),
            column("aggregate_id", BigInteger),
            column("payload", JSONB),
            column("created_at", DateTime(timezone=True)),
            column("traceparent", Text),
            column("request_id", Text),
        )
        _DISPATCH[schema] = statement
    return statement


async def claim_for_dispatch(connection: AsyncConnection, schema: str, limit: int) -> list[Event]:
    """Lock up to `limit` undispatched rows, oldest first, skipping rows another relay
    holds, and mark them dispatched: ONE statement, inside the caller's transaction.

    The caller enqueues the returned events before it commits; if it cannot, it rolls back
    and the rows are undispatched again. Oldest first (by id) in the returned list too.
    """
    result = await connection.execute(_dispatch_statement(schema), {"limit": limit})
    rows = sorted(result.all(), key=lambda r: r.id)
    return [
        Event(
            id=f"{schema}:{r.id}",
            type=r.event_type,
            schema=schema,
            aggregate_id=r.aggregate_id,
            payload=r.payload,
            occurred_at=r.created_at,
            traceparent=r.traceparent,
            request_id=r.request_id,
        )
        for r in rows
    ]


async def existing_outbox_schemas(session: AsyncSession) -> list[str]:
    """The domain schemas whose outbox table has been migrated."""
    rows = await session.execute(
        text(
            "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = 'outbox' AND c.relkind IN ('r', 'p') "
            "AND n.nspname = ANY(:schemas) ORDER BY n.nspname"
        ),
        {"schemas": list(DOMAIN_SCHEMAS)},
    )
    return [r[0] for r in rows]


async def pending_backlog(session: AsyncSession, schema: str, cap: int) -> tuple[float, int]:
    """(age in seconds of the oldest undispatched event or 0, undispatched events up to
    `cap`): one range scan of the pending index."""
    table = outbox_table(schema)
    pending = (
        select(table.c.created_at)
        .where(table.c.dispatched_at.is_(None))
        .order_by(table.c.id)
        .limit(cap)
        .subquery()
    )
    row = (
        await session.execute(
            select(
                func.extract("epoch", func.now() - func.min(pending.c.created_at)),
                func.count(),
            ).select_from(pending)
        )
    ).one()
    return float(row[0] or 0.0), int(row[1])


async def purge_dispatched(session: AsyncSession, schema: str, older_than_hours: int) -> int:
    """Delete dispatched rows and processed-event marks older than the retention."""
    table = outbox_table(schema)
    result = await session.execute(
        delete(table).where(
            table.c.dispatched_at.is_not(None),
            table.c.dispatched_at < func.now() - text(f"interval '{int(older_than_hours)} hours'"),
        )
    )
    processed = processed_table(schema)
    await session.execute(
        delete(processed).where(
            processed.c.processed_at
            < func.now() - text(f"interval '{int(older_than_hours) * 7} hours'")
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def claim_event(session: AsyncSession, schema: str, consumer: str, event_id: str) -> bool:
    """Record that `consumer` handled `event_id`, in the caller's transaction.

    True the first time; False when it was already recorded (by a committed transaction,
    or one that commits while this one waits on the key), so the caller skips its effects.
    """
    table = processed_table(schema)
    result = await session.execute(
        pg_insert(table)
        .values(consumer=consumer, event_id=event_id)
        .on_conflict_do_nothing()
        .returning(table.c.event_id)
    )
    return result.first() is not None
