"""Count SQL statements, for tests that assert "a fixed number of statements".

    with count_statements() as counter:
        ... run a request against an app in this process ...
    assert counter.count == 3

Listens to `before_cursor_execute` on every Engine of the process (or one given engine).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass
class StatementCounter:
    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)

    def queries(self) -> list[str]:
        """Statements other than transaction control (BEGIN/COMMIT/ROLLBACK)."""
        return [
            s
            for s in self.statements
            if s.split(None, 1)[0].upper() not in {"BEGIN", "COMMIT", "ROLLBACK"}
        ]


@contextmanager
def count_statements(engine: AsyncEngine | Engine | None = None) -> Iterator[StatementCounter]:
    counter = StatementCounter()
    target: Any = Engine
    if isinstance(engine, AsyncEngine):
        target = engine.sync_engine
    elif engine is not None:
        target = engine

    def _on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        counter.statements.append(statement.strip())

    event.listen(target, "before_cursor_execute", _on_execute)
    try:
        yield counter
    finally:
        event.remove(target, "before_cursor_execute", _on_execute)
