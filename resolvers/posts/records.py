"""Plain records the posts resolvers return (the subgraph never sees ORM objects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from models.posts import Comment, Media, Post


@dataclass(frozen=True)
class PostRecord:
    id: int
    author_id: int
    text: str
    like_count: int
    comment_count: int
    created_at: datetime
    published_at: datetime | None  # None until every medium is READY
    edited_at: datetime | None = None

    @classmethod
    def of(cls, p: Post) -> PostRecord:
        return cls(
            id=p.id,
            author_id=p.author_id,
            text=p.text,
            like_count=p.like_count,
            comment_count=p.comment_count,
            created_at=p.created_at,
            published_at=p.published_at,
            edited_at=p.edited_at,
        )

    @classmethod
    def from_row(cls, row: Any) -> PostRecord:
        """From a row whose first columns are `POST_COLUMNS`, in that order (a statement's
        row, a tuple): by position, without the row's `_mapping` (a dict per row). The
        record `cls(*row[:8])` makes, its fields put in its `__dict__` directly (the frozen
        dataclass's `__init__`, an `object.__setattr__` per field, costs twice as much; 20
        posts a home feed page; tests/subgraphs/posts/test_fast_records.py)."""
        rec = object.__new__(cls)
        d = rec.__dict__
        (
            d["id"],
            d["author_id"],
            d["text"],
            d["like_count"],
            d["comment_count"],
            d["created_at"],
            d["published_at"],
            d["edited_at"],
        ) = row[:8]
        return rec

    def snapshot(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "author_id": self.author_id,
            "text": self.text,
            "like_count": self.like_count,
            "comment_count": self.comment_count,
            "created_at": self.created_at.isoformat(),
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "edited_at": self.edited_at.isoformat() if self.edited_at else None,
        }

    @classmethod
    def from_snapshot(cls, d: dict[str, Any]) -> PostRecord:
        edited = d.get("edited_at")
        return cls(
            id=int(d["id"]),
            author_id=int(d["author_id"]),
            text=str(d["text"]),
            like_count=int(d["like_count"]),
            comment_count=int(d["comment_count"]),
            created_at=datetime.fromisoformat(d["created_at"]),
            published_at=_published_at(d),
            edited_at=datetime.fromisoformat(edited) if edited else None,
        )


def _published_at(d: dict[str, Any]) -> datetime | None:
    if "published_at" not in d:  # a message from before publication: a visible post
        return datetime.fromisoformat(d["created_at"])
    value = d["published_at"]
    return datetime.fromisoformat(value) if value else None


# The columns a statement selects for `PostRecord.from_row`, in the record's field order.
POST_COLUMNS = "id, author_id, text, like_count, comment_count, created_at, published_at, edited_at"


@dataclass(frozen=True)
class Thumbnail:
    width: int
    height: int
    key: str


@dataclass(frozen=True)
class MediaRecord:
    id: int
    post_id: int
    author_id: int
    position: int
    status: str
    content_type: str
    byte_size: int
    stored_key: str | None
    stored_bytes: int | None
    width: int | None
    height: int | None
    thumbnails: tuple[Thumbnail, ...]
    failure_reason: str | None
    created_at: datetime

    @classmethod
    def of(cls, m: Media | Any) -> MediaRecord:
        """From a `Media` object or a row of the media table's columns."""
        return cls(
            id=m.id,
            post_id=m.post_id,
            author_id=m.author_id,
            position=m.position,
            status=m.status,
            content_type=m.stored_content_type or m.content_type,
            byte_size=m.byte_size,
            stored_key=m.stored_key,
            stored_bytes=m.stored_bytes,
            width=m.width,
            height=m.height,
            thumbnails=tuple(
                Thumbnail(int(t["width"]), int(t["height"]), str(t["key"]))
                for t in (m.thumbnails or [])
            ),
            failure_reason=m.failure_reason,
            created_at=m.created_at,
        )


@dataclass(frozen=True)
class CommentRecord:
    id: int
    post_id: int
    author_id: int
    text: str
    created_at: datetime
    parent_id: int | None = None
    reply_count: int = 0

    @classmethod
    def of(cls, c: Comment | Any) -> CommentRecord:
        """From a `Comment` object or a row of the comments table's columns."""
        return cls(
            id=c.id,
            post_id=c.post_id,
            author_id=c.author_id,
            text=c.text,
            created_at=c.created_at,
            parent_id=c.parent_id,
            reply_count=c.reply_count,
        )

    @classmethod
    def from_row(cls, row: Any) -> CommentRecord:
        """From a row whose first columns are `COMMENT_COLUMNS`, in that order."""
        return cls(*row[:7])


# The columns a statement selects for `CommentRecord.from_row`, in the record's field order.
COMMENT_COLUMNS = "id, post_id, author_id, text, created_at, parent_id, reply_count"


@dataclass(frozen=True)
class Upload:
    """Where and how the client uploads one media file (a presigned S3 POST)."""

    media_id: int
    method: str
    url: str
    fields: dict[str, str]
    headers: dict[str, str]
    expires_at: datetime


@dataclass(frozen=True)
class CreatedPost:
    post: PostRecord
    uploads: list[Upload] = field(default_factory=list)


@dataclass(frozen=True)
class LikeChange:
    """The result of a like or unlike: `changed` is False for a repeat (a no-op)."""

    post: PostRecord
    like_count: int
    liked: bool
    changed: bool
    user_id: int
