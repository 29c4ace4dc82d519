"""The request id of the request being served (a contextvar: every log line written while
serving it, and every subgraph request it makes, carries it)."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = b"x-request-id"
_VALID = re.compile(rb"[A-Za-z0-9._:/+=@-]{1,128}")

request_id: ContextVar[str | None] = ContextVar("graph_request_id", default=None)


def accept_request_id(value: bytes | None) -> str:
    """The client's `x-request-id` when it is sane (printable, no spaces, at most 128
    characters), else a new one."""
    if value is not None and _VALID.fullmatch(value):
        return value.decode("ascii")
    return uuid.uuid4().hex
