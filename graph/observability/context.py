"""The request id of the request being served (a contextvar: every log line written while
serving it, and every subgraph request it makes, carries it)."""

from __future__ import annotations

import itertools
import os
import re
import secrets
from contextvars import ContextVar

REQUEST_ID_HEADER = b"x-request-id"
_VALID = re.compile(rb"[A-Za-z0-9._:/+=@-]{1,128}")

request_id: ContextVar[str | None] = ContextVar("graph_request_id", default=None)


def _new_ids() -> None:
    """New request ids: 32 hex digits, a random prefix of this process (a new one in a
    forked child) and a count (no random bytes to fetch per request)."""
    global _prefix, _count
    _prefix = secrets.token_hex(10)
    _count = itertools.count(1)


_prefix = ""
_count = itertools.count(1)
_new_ids()
os.register_at_fork(after_in_child=_new_ids)


def accept_request_id(value: bytes | None) -> str:
    """The client's `x-request-id` when it is sane (printable, no spaces, at most 128
    characters), else a new one."""
    if value is not None and _VALID.fullmatch(value):
        return value.decode("ascii")
    return f"{_prefix}{next(_count):012x}"
