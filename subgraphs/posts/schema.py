"""Query, Mutation and Subscription of the posts subgraph."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.tools import merge_types
from strawberry.types.graphql import OperationType

from puppies.broker import SubscriberDropped
from puppies.pagination import PageRequest
from resolvers.errors import ResolverError, Unauthenticated
from resolvers.ids import parse_id, try_parse_id
from resolvers.posts import comments, likes, media, posts, search
from resolvers.posts.posts import MediaSpec
from subgraphs.common import (
    Connection,
    RequestContext,
    connection_from_page,
    page_size,
)
from subgraphs.common.app import SubgraphSchema, schema_arguments
from subgraphs.posts.moderation import ModerationMutation, ModerationQuery
from subgraphs.posts.multiplex import Multiplexer, share_key
from subgraphs.posts.types import (
    AddCommentInput,
    AddCommentPayload,
    Comment,
    CompleteMediaUploadPayload,
    CreatePostInput,
    CreatePostPayload,
    DeleteCommentPayload,
    DeletePostPayload,
    EditPostInput,
    EditPostPayload,
    LikePayload,
    Media,
    MediaUpload,
    Post,
    PostLikeEvent,
    PostsInfo,
    User,
    UserError,
)

P = TypeVar("P")
# Checked by the router (@requiresScopes) and again here (`_writer`): a user session has
# every scope, an API key the ones it was created with.
WRITE_POSTS = [["write:posts"]]


def _writer(info: PostsInfo) -> int:
    """The viewer's user id for a write; UNAUTHENTICATED/FORBIDDEN as top-level errors."""
    return info.context.viewer.require_scope("write:posts")


async def _payload(make: Callable[[], Awaitable[P]], fail: Callable[[list[UserError]], P]) -> P:
    """Run a mutation; expected failures become `errors` in the payload."""
    try:
        return await make()
    except Unauthenticated:
        raise
    except ResolverError as exc:
        return fail([UserError(message=exc.message, code=exc.code, field=exc.field)])


@strawberry.type
class Query:
    @strawberry.field(description="A post by ID, or null when it does not exist.")
    async def post(self, info: PostsInfo, id: strawberry.ID) -> Post | None:
        rec = await info.context.loaders.post.load(parse_id(id, "id"))
        return Post.of(rec) if rec else None

    @strawberry.field(description="Every post, newest first.", directives=[page_size()])
    async def posts(
        self, info: PostsInfo, first: int | None = None, after: str | None = None
    ) -> Connection[Post] | None:
        req = PageRequest.build(info.context.settings, first, after)
        page = await posts.posts_page(
            info.context.resources, req, viewer_id=info.context.viewer.user_id
        )
        return connection_from_page(page, Post.of)

    @strawberry.field(
        description="Posts whose text matches, newest first: words (stemmed, English), "
        '"quoted phrases", `or`, `-word`.',
        directives=[page_size()],
    )
    async def search_posts(
        self, info: PostsInfo, query: str, first: int | None = None, after: str | None = None
    ) -> Connection[Post] | None:
        req = PageRequest.build(info.context.settings, first, after)
        page = await search.search_posts(
            info.context.resources, query, req, info.context.viewer.user_id
        )
        for rec in page.items:
            info.context.loaders.post.prime(rec.id, rec)
        return connection_from_page(page, Post.of)


@strawberry.type
class Mutation:
    @strawberry.federation.mutation(
        description="Create a post; returns one presigned upload per file.",
        requires_scopes=WRITE_POSTS,
    )
    async def create_post(
        self, info: PostsInfo, input: CreatePostInput
    ) -> CreatePostPayload | None:
        author = _writer(info)
        specs = [MediaSpec(content_type=m.content_type, byte_size=m.byte_size) for m in input.media]

        async def run() -> CreatePostPayload:
            created = await posts.create_post(info.context.resources, author, input.text, specs)
            return CreatePostPayload(
                post=Post.of(created.post), uploads=[MediaUpload.of(u) for u in created.uploads]
            )

        return await _payload(run, lambda e: CreatePostPayload(errors=e))

    @strawberry.federation.mutation(
        description="Tell the API a file was uploaded; processing starts.",
        requires_scopes=WRITE_POSTS,
    )
    async def complete_media_upload(
        self, info: PostsInfo, media_id: strawberry.ID
    ) -> CompleteMediaUploadPayload | None:
        viewer = _writer(info)

        async def run() -> CompleteMediaUploadPayload:
            rec = await media.complete_media_upload(
                info.context.resources, viewer, parse_id(media_id, "mediaId")
            )
            return CompleteMediaUploadPayload(media=Media(rec=rec))

        return await _payload(run, lambda e: CompleteMediaUploadPayload(errors=e))

    @strawberry.federation.mutation(
        description="Change a post's text (its author only); marks it edited. A post with "
        "media may have empty text.",
        requires_scopes=WRITE_POSTS,
    )
    async def edit_post(self, info: PostsInfo, input: EditPostInput) -> EditPostPayload | None:
        viewer = _writer(info)

        async def run() -> EditPostPayload:
            rec = await posts.edit_post(
                info.context.resources, viewer, parse_id(input.id, "id"), input.text
            )
            info.context.loaders.post.clear(rec.id).prime(rec.id, rec)
            return EditPostPayload(post=Post.of(rec))

        return await _payload(run, lambda e: EditPostPayload(errors=e))

    @strawberry.federation.mutation(
        description="Delete a post (its author only): gone at once from every list, feed and "
        "search; its likes, comments and files are removed in the background.",
        requires_scopes=WRITE_POSTS,
    )
    async def delete_post(self, info: PostsInfo, id: strawberry.ID) -> DeletePostPayload | None:
        viewer = _writer(info)

        async def run() -> DeletePostPayload:
            rec = await posts.delete_post(info.context.resources, viewer, parse_id(id, "id"))
            return DeletePostPayload(deleted_post_id=strawberry.ID(str(rec.id)))

        return await _payload(run, lambda e: DeletePostPayload(errors=e))

    @strawberry.federation.mutation(
        description="Like a post; liking it again changes nothing.",
        requires_scopes=WRITE_POSTS,
    )
    async def like_post(self, info: PostsInfo, post_id: strawberry.ID) -> LikePayload | None:
        viewer = _writer(info)

        async def run() -> LikePayload:
            change = await likes.like_post(
                info.context.resources, viewer, parse_id(post_id, "postId")
            )
            info.context.loaders.like_count.prime(change.post, change.like_count)
            info.context.loaders.liked.prime(change.post.id, True)
            return LikePayload(post=Post.of(change.post))

        return await _payload(run, lambda e: LikePayload(errors=e))

    @strawberry.federation.mutation(
        description="Unlike a post; unliking what you never liked is a no-op.",
        requires_scopes=WRITE_POSTS,
    )
    async def unlike_post(self, info: PostsInfo, post_id: strawberry.ID) -> LikePayload | None:
        viewer = _writer(info)

        async def run() -> LikePayload:
            change = await likes.unlike_post(
                info.context.resources, viewer, parse_id(post_id, "postId")
            )
            info.context.loaders.like_count.prime(change.post, change.like_count)
            info.context.loaders.liked.prime(change.post.id, False)
            return LikePayload(post=Post.of(change.post))

        return await _payload(run, lambda e: LikePayload(errors=e))

    @strawberry.federation.mutation(requires_scopes=WRITE_POSTS)
    async def add_comment(
        self, info: PostsInfo, input: AddCommentInput
    ) -> AddCommentPayload | None:
        viewer = _writer(info)

        async def run() -> AddCommentPayload:
            reply_to = parse_id(input.reply_to, "replyTo") if input.reply_to else None
            rec = await comments.add_comment(
                info.context.resources,
                viewer,
                parse_id(input.post_id, "postId"),
                input.text,
                reply_to,
            )
            return AddCommentPayload(comment=Comment.of(rec))

        return await _payload(run, lambda e: AddCommentPayload(errors=e))

    @strawberry.federation.mutation(
        description="Delete a comment (its author or the post's author).",
        requires_scopes=WRITE_POSTS,
    )
    async def delete_comment(
        self, info: PostsInfo, id: strawberry.ID
    ) -> DeleteCommentPayload | None:
        viewer = _writer(info)

        async def run() -> DeleteCommentPayload:
            rec = await comments.delete_comment(info.context.resources, viewer, parse_id(id, "id"))
            return DeleteCommentPayload(deleted_comment_id=strawberry.ID(str(rec.id)))

        return await _payload(run, lambda e: DeleteCommentPayload(errors=e))


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Every like and unlike of a post, after it commits.")
    async def post_like_changed(
        self, info: PostsInfo, post_id: strawberry.ID
    ) -> AsyncGenerator[PostLikeEvent, None]:
        ld = info.context.loaders
        pid = parse_id(post_id, "postId")
        if await ld.post.load(pid) is None:
            raise GraphQLError(
                f"post {pid} does not exist", extensions={"code": "NOT_FOUND", "field": "postId"}
            )
        # The check read the post (and the viewer's like of it, into `liked`): the first
        # event must not be answered from that (loaders are refreshed after each event).
        info.context.refresh_loaders()
        async with ld.broker.subscribe(pid) as sub:
            try:
                async for event in sub.items():
                    yield PostLikeEvent(
                        post=Post.of(event.post),
                        like_count=event.like_count,
                        liked=event.liked,
                        user_id=strawberry.ID(str(event.user_id)),
                    )
            except SubscriberDropped as exc:
                raise GraphQLError(str(exc), extensions={"code": exc.code}) from None


class PostsSchema(SubgraphSchema):
    """The shared subgraph schema, plus deduplication of identical live-like subscriptions
    (subgraphs/posts/multiplex.py) for the WebSocket transports."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.multiplexer = Multiplexer()

    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
    ) -> Any:
        parent = super().stream

        def open_source() -> Awaitable[Any]:
            return parent(
                query,
                variable_values,
                context_value,
                root_value,
                operation_name,
                operation_extensions,
                allowed_operation_types,
            )

        allowed = set(allowed_operation_types or (OperationType.SUBSCRIPTION,))
        share = (
            share_key(query, variable_values, operation_name)
            if (OperationType.SUBSCRIPTION in allowed and not operation_extensions)
            else None
        )
        if (
            share is None
            or not isinstance(context_value, RequestContext)
            or not await _may_see(context_value, share.post_ids)
        ):
            return await open_source()
        return await self.multiplexer.join(
            share.key, open_source, context_value.settings.subscription_queue_size
        )


async def _may_see(context: RequestContext[Any], post_ids: tuple[object, ...]) -> bool:
    """Whether this viewer sees every post (the shared execution checked its first viewer
    only). Not shared otherwise: the viewer's own execution gives the error (NOT_FOUND,
    BAD_USER_INPUT)."""
    loaders = context.loaders
    for raw in post_ids:
        pid = try_parse_id(raw)
        if pid is None or await loaders.post.load(pid) is None:
            return False
    context.refresh_loaders()  # nothing read here is served to a later operation
    return True


# The shared factory's arguments (error codes, caches, ...), in the posts schema's class.
schema = PostsSchema(
    **schema_arguments(
        merge_types("Query", (Query, ModerationQuery)),
        merge_types("Mutation", (Mutation, ModerationMutation)),
        Subscription,
        [User, Post, Media, Comment],
    )
)
