"""What text input may contain: the one definition, used by the subgraphs' input layer
(subgraphs/common/inputs.py, every string argument of every field) and by resolvers that
judge list items one by one (trackEvents' events).

Text must be something PostgreSQL, Redis and a JSON response can hold and a person can
read: no NUL (PostgreSQL refuses it in text), no unpaired UTF-16 surrogate (not encodable
as UTF-8), no control character other than tab, line feed and carriage return, and at
most `MAX_TEXT_INPUT_LENGTH` characters. Fields with their own, lower limits (a post's
text, a bio, a username) check those where the field is handled.
"""

from __future__ import annotations

import re

from resolvers.errors import BadInput

# C0 controls except \t \n \r, DEL, C1 controls, and UTF-16 surrogates (never valid alone
# in a Python str built from JSON, which pairs them when they are paired).
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def text_problem(value: str, max_length: int) -> str | None:
    """What is wrong with `value` as text input, said so a person can fix it; None if fine."""
    if len(value) > max_length:
        return f"is {len(value)} characters long; the limit is {max_length}"
    bad = _FORBIDDEN.search(value)
    if bad is None:
        return None
    ch = bad.group()
    at = bad.start()
    if ch == "\x00":
        return f"contains a NUL character (U+0000) at position {at}; remove it"
    if "\ud800" <= ch <= "\udfff":
        return (
            f"contains an unpaired UTF-16 surrogate (U+{ord(ch):04X}) at position {at}; "
            "send valid Unicode text"
        )
    return (
        f"contains the control character U+{ord(ch):04X} at position {at}; remove it "
        "(tabs and line breaks are allowed)"
    )


def check_text(value: str, field: str, max_length: int) -> str:
    """`value` if it is acceptable text; BadInput naming `field` otherwise."""
    problem = text_problem(value, max_length)
    if problem is not None:
        raise BadInput(f"`{field}` {problem}", field=field)
    return value


def printable(value: str, limit: int = 200) -> str:
    """`value` safe to echo in a response: forbidden characters written as \\uXXXX escapes,
    cut to `limit` characters."""
    cut = value[:limit]
    return _FORBIDDEN.sub(lambda m: f"\\u{ord(m.group()):04x}", cut) + (
        "..." if len(value) > limit else ""
    )
