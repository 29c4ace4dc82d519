"""PostgreSQL LISTEN in the worker: one connection, any number of channels, asyncio events.

Work that waits for committed rows (the outbox relay, the analytics roll-up) is woken by a
`pg_notify` that a trigger sends: PostgreSQL delivers it when the inserting transaction
commits, so a wake-up always means "there are committed rows". Between wake-ups nothing
polls the database but a slow fallback of each waiter's own.

    listener = Listener(settings)
    wake = listener.subscribe("puppies_outbox")
    task = asyncio.create_task(listener.run())
    await wake.wait(); wake.clear(); ...

Every subscribed event is also set each time the connection is (re)established, so rows
committed while nobody listened are caught up at once, never left to the fallback.

The event (`Wake`) also collects the notifications' payloads, so a waiter can do only the
work a notification names (the relay drains only the outboxes whose schema was notified);
`everything` says that something other than a notification woke it (the first pass, a
reconnect), when the waiter must look at everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg

from puppies.settings import Settings

log = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 5.0


class Wake(asyncio.Event):
    """An asyncio.Event that remembers why it was set: the payloads of the notifications
    since the last `take()`, and whether a reconnect (or the first pass) set it."""

    def __init__(self) -> None:
        super().__init__()
        self.payloads: set[str] = set()
        self.everything = True

    def take(self) -> tuple[bool, set[str]]:
        """Clear the event; (everything, payloads) of what set it since the last take."""
        self.clear()
        everything, payloads = self.everything, self.payloads
        self.everything, self.payloads = False, set()
        return everything, payloads


class Listener:
    def __init__(self, settings: Settings) -> None:
        assert settings.database_url is not None
        self.dsn = settings.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self._events: dict[str, list[Wake]] = {}
        self._conn: asyncpg.Connection | None = None
        self._adding: set[asyncio.Task[None]] = set()
        self.connected = asyncio.Event()

    def subscribe(self, channel: str) -> Wake:
        """An event set on every notification of `channel` and on every reconnect; set at
        once too, so the subscriber's first pass does not wait."""
        event = Wake()
        event.set()
        new = channel not in self._events
        self._events.setdefault(channel, []).append(event)
        if new and self._conn is not None and not self._conn.is_closed():
            task = asyncio.get_running_loop().create_task(
                self._conn.add_listener(channel, self._on_notify)
            )
            self._adding.add(task)  # a reference until it is done
            task.add_done_callback(self._adding.discard)
        return event

    def _on_notify(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        for event in self._events.get(channel, ()):
            event.payloads.add(payload)
            event.set()

    def _wake_all(self) -> None:
        for events in self._events.values():
            for event in events:
                event.everything = True
                event.set()

    async def run(self) -> None:
        """Keep the LISTEN connection open until cancelled; reconnect with back-off."""
        delay = 0.5
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self.dsn)
                for channel in list(self._events):
                    await conn.add_listener(channel, self._on_notify)
                self._conn = conn
                delay = 0.5
                self.connected.set()
                self._wake_all()  # catch up on anything committed while not listening
                while not conn.is_closed():
                    await asyncio.sleep(KEEPALIVE_SECONDS)
                    await conn.execute("SELECT 1")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.connected.clear()
                log.warning("LISTEN connection lost (%s); reconnecting", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)
            finally:
                self._conn = None
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close()
