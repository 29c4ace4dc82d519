"""The posts subgraph's GraphQL types. Thin: every field calls into resolvers/posts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import Enum
from typing import TypeVar

import strawberry

from puppies.pagination import Page, PageRequest
from resolvers.errors import BadInput
from resolvers.ids import parse_id, try_parse_id
from resolvers.posts.loaders import PostsLoaders
from resolvers.posts.media import media_url
from resolvers.posts.records import CommentRecord, MediaRecord, PostRecord, Upload
from subgraphs.common import Connection, Info, RequestContext, connection_from_page, page_size
from subgraphs.common.payloads import UserError
from subgraphs.common.plain import context_field

PostsInfo = Info[PostsLoaders]
PostsContext = RequestContext[PostsLoaders]


@strawberry.enum(description="Where a media file is in its life.")
class MediaStatus(Enum):
    PENDING_UPLOAD = "PENDING_UPLOAD"
    PROCESSING = "PROCESSING"
    READY = "READY"
    FAILED = "FAILED"


@strawberry.type(description="A WebP rendition of an image.")
class Thumbnail:
    width: int
    height: int
    url: str


@strawberry.type(description="An image attached to a post.")
class Media:
    rec: strawberry.Private[MediaRecord]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.rec.id))

    @strawberry.field
    def status(self) -> MediaStatus:
        return MediaStatus(self.rec.status)

    @strawberry.field(description="The image type (of the stored copy once READY).")
    def content_type(self) -> str:
        return self.rec.content_type

    @strawberry.field(description="Bytes: as declared until READY, then as stored.")
    def byte_size(self) -> int:
        return self.rec.stored_bytes or self.rec.byte_size

    @strawberry.field
    def width(self) -> int | None:
        return self.rec.width

    @strawberry.field
    def height(self) -> int | None:
        return self.rec.height

    @strawberry.field(description="The cleaned image (metadata stripped); null until READY.")
    def url(self, info: PostsInfo) -> str | None:
        if self.rec.status != "READY":
            return None
        return media_url(info.context.resources, self.rec.stored_key)

    @strawberry.field(
        description="WebP renditions 320 and 1080 px wide, each only when the image is "
        "wider (a small image has none: use `url`); empty until READY."
    )
    def thumbnails(self, info: PostsInfo) -> list[Thumbnail]:
        res = info.context.resources
        return [
            Thumbnail(width=t.width, height=t.height, url=media_url(res, t.key) or "")
            for t in self.rec.thumbnails
        ]

    @strawberry.field(
        description="Why processing failed, in words a user can act on. For the post's "
        "author only (null for anyone else)."
    )
    def failure_reason(self, info: PostsInfo) -> str | None:
        if info.context.loaders.viewer_id != self.rec.author_id:
            return None
        return self.rec.failure_reason


@strawberry.federation.type(keys=["id"])
class User:
    id: strawberry.ID

    @strawberry.field(
        description="This user's published posts, newest first (to the user themselves, "
        "their posts still waiting for media too; none when a block stands between this "
        "user and the viewer). `totalCount` is `postCount`.",
        directives=[page_size()],
    )
    async def posts(
        self, info: PostsInfo, first: int | None = None, after: str | None = None
    ) -> Connection[Post] | None:
        req = PageRequest.build(info.context.settings, first, after)
        author = parse_id(self.id, "id")
        loaders = info.context.loaders
        page = await loaders.author_posts.load((author, req))
        return connection_from_page(page, Post.of, lambda: loaders.post_count.load(author))

    @strawberry.field(
        description="How many posts this user has published (to the user themselves, "
        "counting those still waiting for media too)."
    )
    async def post_count(self, info: PostsInfo) -> int | None:
        return await info.context.loaders.post_count.load(parse_id(self.id, "id"))

    @classmethod
    def resolve_reference(cls, id: strawberry.ID, info: PostsInfo) -> User:
        return cls(id=id)


R = TypeVar("R")
T = TypeVar("T")


def _keys(ids: list[object], parse: Callable[[object], int]) -> list[int | Exception]:
    """Each id parsed, or the error parsing it raised (that entity's error)."""
    keys: list[int | Exception] = []
    for i in ids:
        try:
            keys.append(parse(i))
        except BadInput as exc:
            keys.append(exc)
    return keys


def _or_none(rec: R | None, to: Callable[[R], T]) -> T | None:
    return to(rec) if rec else None


@strawberry.federation.type(keys=["id"])
class Post:
    """Fields read straight from the record are data fields, set once in `of`: Strawberry
    answers those with a plain attribute read, where a resolver method costs the whole
    per-field resolver path (Info, arguments, extensions) for every post of a page."""

    id: strawberry.ID
    rec: strawberry.Private[PostRecord]
    author: User | None
    text: str
    created_at: datetime

    @classmethod
    def of(cls, rec: PostRecord) -> Post:
        """`cls(id=ID(str(rec.id)), rec=rec, author=User(id=ID(str(rec.author_id))),
        text=rec.text, created_at=rec.created_at)`: the same object, its fields set directly
        (the dataclasses' keyword `__init__` costs twice as much; 20 posts a home feed page;
        tests/subgraphs/posts/test_fast_records.py)."""
        post = cls.__new__(cls)
        post.id = strawberry.ID(str(rec.id))
        post.rec = rec
        author = User.__new__(User)
        author.id = strawberry.ID(str(rec.author_id))
        post.author = author
        post.text = rec.text
        post.created_at = rec.created_at
        return post

    @classmethod
    async def resolve_reference(cls, id: strawberry.ID, info: PostsInfo) -> Post | None:
        rec = await info.context.loaders.post.load(parse_id(id, "id"))
        return cls.of(rec) if rec else None

    @classmethod
    async def resolve_references(cls, info: PostsInfo, ids: list[object]) -> list[object]:
        """`resolve_reference` of each id, as one coroutine (SubgraphSchema.entities_resolver):
        a post, None, or the BadInput of an id that is not one."""
        keys: list[int | Exception] = []
        wanted: list[int] = []
        for i in ids:
            key = try_parse_id(i)
            if key is None:
                keys.extend(_keys([i], lambda i: parse_id(i, "id")))  # its BadInput
            else:
                keys.append(key)
                wanted.append(key)
        recs = iter(await info.context.loaders.posts_many(wanted))
        of = cls.of
        out: list[object] = []
        for k in keys:
            if type(k) is int:
                rec = next(recs)
                out.append(of(rec) if rec is not None else None)
            else:
                out.append(k)
        return out

    @context_field(
        description="Whether the author changed the text after posting.", graphql_type=bool
    )
    def edited(self, context: PostsContext) -> bool:
        return self.rec.edited_at is not None

    @context_field(
        description="When the text was last changed (null if never).",
        graphql_type=datetime | None,
    )
    def edited_at(self, context: PostsContext) -> datetime | None:
        return self.rec.edited_at

    @strawberry.field
    async def media(self, info: PostsInfo) -> list[Media]:
        return [Media(rec=m) for m in await info.context.loaders.media.load(self.rec.id)]

    # Not coroutines: read with the post (its statement and the live counters), these are
    # answered at once, on the plain fields' fast path (subgraphs/common/plain.py);
    # otherwise the DataLoader's future is returned, and awaited.
    @context_field(
        description="Likes; buffered counters are flushed about every second.", graphql_type=int
    )
    def like_count(self, context: PostsContext) -> int | Awaitable[int]:
        return context.loaders.like_count_of(self.rec)

    @context_field(description="False for anonymous viewers.", graphql_type=bool)
    def viewer_has_liked(self, context: PostsContext) -> bool | Awaitable[bool]:
        return context.loaders.viewer_liked(self.rec.id)

    @context_field(graphql_type=int)
    def comment_count(self, context: PostsContext) -> int:
        return self.rec.comment_count

    @strawberry.field(
        description="Top-level comments, newest first (replies are under each comment). "
        "`commentCount` counts both.",
        directives=[page_size()],
    )
    async def comments(
        self, info: PostsInfo, first: int | None = None, after: str | None = None
    ) -> Connection[Comment]:
        req = PageRequest.build(info.context.settings, first, after)
        page = await info.context.loaders.comments.load((self.rec.id, req))
        return connection_from_page(page, Comment.of, self.rec.comment_count)

    @strawberry.field(
        description="Who liked this post, newest like first (accounts a block stands "
        "between are left out).",
        directives=[page_size()],
    )
    async def liked_by(
        self, info: PostsInfo, first: int | None = None, after: str | None = None
    ) -> Connection[User] | None:
        req = PageRequest.build(info.context.settings, first, after)
        page = await info.context.loaders.liked_by.load((self.rec.id, req))
        return connection_from_page(page, lambda uid: User(id=strawberry.ID(str(uid))))


async def _comment_post(root: Comment, info: PostsInfo) -> Post | None:
    rec = await info.context.loaders.post.load(root.rec.post_id)
    return Post.of(rec) if rec else None


@strawberry.federation.type(keys=["id"], description="A comment on a post, or a reply to one.")
class Comment:
    rec: strawberry.Private[CommentRecord]
    id: strawberry.ID
    post: Post | None = strawberry.field(resolver=_comment_post)
    author: User | None
    text: str
    created_at: datetime

    @classmethod
    def of(cls, rec: CommentRecord) -> Comment:
        # data fields, as on Post: no resolver call per field of every comment
        return cls(
            rec=rec,
            id=strawberry.ID(str(rec.id)),
            author=User(id=strawberry.ID(str(rec.author_id))),
            text=rec.text,
            created_at=rec.created_at,
        )

    @classmethod
    async def resolve_reference(cls, id: strawberry.ID, info: PostsInfo) -> Comment | None:
        key = try_parse_id(id)
        rec = await info.context.loaders.comment.load(key) if key is not None else None
        return cls.of(rec) if rec else None

    @classmethod
    async def resolve_references(cls, info: PostsInfo, ids: list[object]) -> list[object]:
        """`resolve_reference` of each id, as one coroutine."""
        keys = [try_parse_id(i) for i in ids]
        wanted = [k for k in keys if k is not None]
        recs = iter(await info.context.loaders.comment.load_many(wanted))
        return [None if k is None else _or_none(next(recs), cls.of) for k in keys]

    @strawberry.field(description="The comment this one replies to (null for a top-level one).")
    async def parent(self, info: PostsInfo) -> Comment | None:
        if self.rec.parent_id is None:
            return None
        rec = await info.context.loaders.comment.load(self.rec.parent_id)
        return Comment.of(rec) if rec else None

    @strawberry.field(description="Replies to this comment (0 for a reply).")
    def reply_count(self) -> int:
        return self.rec.reply_count

    @strawberry.field(
        description="Replies, oldest first; empty for a reply.", directives=[page_size()]
    )
    async def replies(
        self, info: PostsInfo, first: int | None = None, after: str | None = None
    ) -> Connection[Comment]:
        req = PageRequest.build(info.context.settings, first, after)
        if self.rec.parent_id is not None:
            return connection_from_page(Page(items=[], keys=[], has_next_page=False), Comment.of)
        page = await info.context.loaders.replies.load((self.rec.id, req))
        return connection_from_page(page, Comment.of)


@strawberry.type
class HttpHeader:
    name: str
    value: str


@strawberry.type(
    description="Upload one file: send a multipart/form-data POST to `url` "
    "with every `fields` entry, then the file as the `file` field."
)
class MediaUpload:
    media_id: strawberry.ID
    method: str
    url: str
    headers: list[HttpHeader]
    fields: list[HttpHeader]
    expires_at: datetime

    @classmethod
    def of(cls, u: Upload) -> MediaUpload:
        return cls(
            media_id=strawberry.ID(str(u.media_id)),
            method=u.method,
            url=u.url,
            headers=[HttpHeader(name=k, value=v) for k, v in u.headers.items()],
            fields=[HttpHeader(name=k, value=v) for k, v in u.fields.items()],
            expires_at=u.expires_at,
        )


@strawberry.input
class MediaInput:
    content_type: str
    byte_size: int


@strawberry.input
class CreatePostInput:
    text: str = ""
    media: list[MediaInput] = strawberry.field(default_factory=list)


@strawberry.input
class AddCommentInput:
    post_id: strawberry.ID
    text: str
    reply_to: strawberry.ID | None = strawberry.field(
        default=None,
        description="Reply to this comment of the same post (a reply to a reply joins "
        "its top-level comment's thread).",
    )


@strawberry.input
class EditPostInput:
    id: strawberry.ID
    text: str


@strawberry.type
class EditPostPayload:
    post: Post | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CreatePostPayload:
    post: Post | None = None
    uploads: list[MediaUpload] = strawberry.field(default_factory=list)
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CompleteMediaUploadPayload:
    media: Media | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeletePostPayload:
    deleted_post_id: strawberry.ID | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class LikePayload:
    post: Post | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AddCommentPayload:
    comment: Comment | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeleteCommentPayload:
    deleted_comment_id: strawberry.ID | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="A like or unlike of a post, as it happened.")
class PostLikeEvent:
    post: Post
    like_count: int
    liked: bool
    user_id: strawberry.ID
