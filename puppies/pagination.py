"""Relay-style pagination primitives: opaque cursors over time-ordered bigint IDs.

A cursor is base64url("v1:<id>"): opaque to clients, but stable and cheap to decode into a
`WHERE id < :after` keyset predicate (IDs from `public.next_id()` sort by creation time).
Page sizes are clamped to `Settings.max_page_size`; asking for more is an error, not a
silent truncation, so a client learns the limit.

Lists ordered by something other than the ID (search results by rank) use a compound
cursor, base64url("v2:<k1>.<k2>...") of non-negative integers: the keyset of the last row.
"""

from __future__ import annotations

import base64
import binascii
from binascii import b2a_base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from puppies.errors import PuppiesError
from puppies.settings import Settings

T = TypeVar("T")
_PREFIX = "v1:"
_COMPOUND = "v2:"
# A cursor key: an ID, or the keyset (tuple of non-negative ints) of a ranked list.
Key = int | tuple[int, ...]


class PaginationError(PuppiesError):
    """A bad cursor or page size; reported as BAD_USER_INPUT."""

    code = "BAD_USER_INPUT"

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


# urlsafe base64 from standard base64 (what `base64.urlsafe_b64encode` does, without its
# two Python calls)
_URLSAFE = bytes.maketrans(b"+/", b"-_")
# The cursors of ID keys already made in this process: a home feed page makes 20, and the
# same recent posts are on every viewer's page. Bounded: emptied when full.
_ID_CURSORS: dict[int, str] = {}
_ID_CURSORS_MAX = 65536


def encode_cursor(key: Key) -> str:
    if type(key) is int:
        found = _ID_CURSORS.get(key)
        if found is not None:
            return found
        cursor = b2a_base64(b"v1:%d" % key, newline=False).translate(_URLSAFE).rstrip(b"=")
        if len(_ID_CURSORS) >= _ID_CURSORS_MAX:
            _ID_CURSORS.clear()
        made = _ID_CURSORS[key] = cursor.decode()
        return made
    return _encode_text(key)


def _encode_text(key: Key) -> str:
    """The cursor as first written (any key; `encode_cursor` gives the same for an int)."""
    text = (
        _COMPOUND + ".".join(str(k) for k in key) if isinstance(key, tuple) else f"{_PREFIX}{key}"
    )
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_text(cursor: str, field: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.urlsafe_b64decode(padded.encode("ascii")).decode()
    except (ValueError, UnicodeError, binascii.Error):
        raise PaginationError(f"`{field}` is not a cursor returned by this API", field) from None


def decode_keyset(cursor: str, arity: int, field: str = "after") -> tuple[int, ...]:
    """A compound cursor's keys; PaginationError unless it is one of `arity` keys."""
    text = _decode_text(cursor, field) if len(cursor) <= 200 else ""
    parts = text[len(_COMPOUND) :].split(".") if text.startswith(_COMPOUND) else []
    if len(parts) != arity or not all(p.isascii() and p.isdigit() and len(p) < 20 for p in parts):
        raise PaginationError(f"`{field}` is not a cursor returned by this API", field)
    return tuple(int(p) for p in parts)


def decode_cursor(cursor: str, field: str = "after") -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
        if not text.startswith(_PREFIX):
            raise ValueError(text)
        value = int(text[len(_PREFIX) :])
    except (ValueError, UnicodeError, binascii.Error):
        raise PaginationError(f"`{field}` is not a cursor returned by this API", field) from None
    if value < 0:
        raise PaginationError(f"`{field}` is not a cursor returned by this API", field)
    return value


@dataclass(frozen=True)
class PageRequest:
    first: int
    after: int | None

    @classmethod
    def build(cls, settings: Settings, first: int | None, after: str | None) -> PageRequest:
        if first is None:
            first = settings.default_page_size
        if first < 0:
            raise PaginationError("`first` must not be negative", "first")
        if first > settings.max_page_size:
            raise PaginationError(
                f"`first` is at most {settings.max_page_size} (got {first})", "first"
            )
        return cls(first, decode_cursor(after) if after else None)


def checked_first(settings: Settings, first: int | None) -> int:
    """`first`, defaulted and checked against the page-size cap."""
    return PageRequest.build(settings, first, None).first


@dataclass(frozen=True)
class KeysetRequest:
    """A page of a ranked list: `after` is the compound key of the last row seen."""

    first: int
    after: tuple[int, ...] | None

    @classmethod
    def build(
        cls, settings: Settings, first: int | None, after: str | None, arity: int
    ) -> KeysetRequest:
        return cls(checked_first(settings, first), decode_keyset(after, arity) if after else None)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of items with their cursor keys, newest first."""

    items: Sequence[T]
    keys: Sequence[Key]
    has_next_page: bool
    has_previous_page: bool = False

    @property
    def cursors(self) -> list[str]:
        return [encode_cursor(k) for k in self.keys]

    @property
    def end_cursor(self) -> str | None:
        return encode_cursor(self.keys[-1]) if self.keys else None

    @property
    def start_cursor(self) -> str | None:
        return encode_cursor(self.keys[0]) if self.keys else None


def page_from_rows(rows: Sequence[tuple[Key, T]], request: PageRequest | KeysetRequest) -> Page[T]:
    """Rows of (cursor key, item) fetched with LIMIT first+1 -> a Page."""
    has_next = len(rows) > request.first
    rows = rows[: request.first]
    return Page(
        items=[r[1] for r in rows],
        keys=[r[0] for r in rows],
        has_next_page=has_next,
        has_previous_page=request.after is not None,
    )
