"""IDs: every ID argument, key and reference is parsed here, and only here.

IDs are positive 64-bit integers (`public.next_id()`), sent as GraphQL `ID` strings of ASCII
digits. Anything else (signs, spaces, underscores, other scripts' digits, NUL, too long) is
not an ID.
"""

from __future__ import annotations

from resolvers.errors import BadInput

MAX_ID = 2**63 - 1
_MAX_DIGITS = len(str(MAX_ID))


def try_parse_id(value: object) -> int | None:
    """The ID as an int, or None when `value` is not one."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 < value <= MAX_ID else None
    if not isinstance(value, str) or not 0 < len(value) <= _MAX_DIGITS:
        return None
    if not (value.isascii() and value.isdigit()):
        return None
    n = int(value)
    return n if 0 < n <= MAX_ID else None


def parse_id(value: object, field: str) -> int:
    """The ID as an int; BadInput naming `field` when `value` is not one."""
    n = try_parse_id(value)
    if n is None:
        raise BadInput(f"`{field}` is not a valid ID: {_show(value)}", field=field)
    return n


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 42 else text[:40] + "..."
