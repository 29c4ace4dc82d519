"""Types shared by every subgraph's mutation payloads (shareable, so they compose)."""

from __future__ import annotations

import strawberry


@strawberry.federation.type(
    shareable=True, description="An expected failure: a field and what to fix."
)
class UserError:
    code: str
    field: str | None
    message: str
