"""Notifications in the users subgraph: the list with its unread count, marking them read,
and the `notificationAdded` subscription (docs/social.md, "Notifications").

`Post` and `Comment` are the posts subgraph's entities, known here only by their key: the
router resolves their fields."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from enum import Enum

import strawberry
from graphql import GraphQLError
from strawberry.federation.schema_directives import Key
from strawberry.federation.types import FieldSet

from puppies.broker import SubscriberDropped
from puppies.pagination import PageRequest
from resolvers.ids import parse_id
from resolvers.users import notifications
from resolvers.users.notifications import NotificationRecord
from subgraphs.common import Edge, PageInfo, connection_from_page, page_size
from subgraphs.users.types import User, UsersInfo


@strawberry.federation.type(keys=[Key(fields=FieldSet("id"), resolvable=False)])
class Post:
    id: strawberry.ID


@strawberry.federation.type(keys=[Key(fields=FieldSet("id"), resolvable=False)])
class Comment:
    id: strawberry.ID


@strawberry.enum(description="What a notification is about.")
class NotificationKind(Enum):
    FOLLOW = "FOLLOW"
    LIKE = "LIKE"
    COMMENT = "COMMENT"
    REPLY = "REPLY"


def _ref(value: int | None) -> strawberry.ID | None:
    return strawberry.ID(str(value)) if value is not None else None


@strawberry.type(
    description="Someone followed you (FOLLOW), liked your post (LIKE), commented on it "
    "(COMMENT) or replied to your comment (REPLY)."
)
class Notification:
    rec: strawberry.Private[NotificationRecord]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.rec.id))

    @strawberry.field
    def kind(self) -> NotificationKind:
        return NotificationKind(self.rec.kind)

    @strawberry.field(description="Who did it.")
    async def actor(self, info: UsersInfo) -> User | None:
        row = await info.context.loaders.user.load(self.rec.actor_id)
        return User.from_row(row) if row else None

    @strawberry.field(description="The post liked or commented on (null for FOLLOW).")
    def post(self) -> Post | None:
        ref = _ref(self.rec.post_id)
        return Post(id=ref) if ref is not None else None

    @strawberry.field(description="The comment or reply (COMMENT and REPLY only).")
    def comment(self) -> Comment | None:
        ref = _ref(self.rec.comment_id)
        return Comment(id=ref) if ref is not None else None

    @strawberry.field(description="Whether markNotificationsRead covered it.")
    def read(self) -> bool:
        return self.rec.read_at is not None

    @strawberry.field
    def created_at(self) -> datetime:
        return self.rec.created_at


@strawberry.type(description="A page of the viewer's notifications, newest first.")
class NotificationConnection:
    edges: list[Edge[Notification]]
    page_info: PageInfo

    @strawberry.field(description="The viewer's unread notifications, all pages together.")
    async def unread_count(self, info: UsersInfo) -> int:
        viewer = info.context.viewer.require_user()
        return await notifications.unread_count(info.context.resources, viewer)


@strawberry.type
class MarkNotificationsReadPayload:
    marked: int = strawberry.field(description="Notifications that were unread and now are read.")
    unread_count: int


@strawberry.type
class NotificationsQuery:
    @strawberry.federation.field(
        description="The viewer's notifications, newest first, with the unread count. "
        "Notifications from accounts a block stands between, or that the viewer mutes, are "
        "left out.",
        authenticated=True,
        requires_scopes=[["read:profile"]],
        directives=[page_size()],
    )
    async def notifications(
        self,
        info: UsersInfo,
        first: int | None = None,
        after: str | None = None,
        unread_only: bool = False,
    ) -> NotificationConnection | None:
        viewer = info.context.viewer.require_scope("read:profile")
        request = PageRequest.build(info.context.settings, first, after)
        page = await notifications.notifications_page(
            info.context.resources, viewer, request, unread_only=unread_only
        )
        connection = connection_from_page(page, lambda rec: Notification(rec=rec))
        return NotificationConnection(edges=connection.edges, page_info=connection.page_info)


@strawberry.type
class NotificationsMutation:
    @strawberry.federation.mutation(
        description="Mark notifications read: these `ids`, or all up to `upTo` (inclusive: "
        "pass the newest one shown, so newer arrivals stay unread), or all of them.",
        requires_scopes=[["write:profile"]],
    )
    async def mark_notifications_read(
        self,
        info: UsersInfo,
        ids: list[strawberry.ID] | None = None,
        up_to: strawberry.ID | None = None,
    ) -> MarkNotificationsReadPayload | None:
        viewer = info.context.viewer.require_scope("write:profile")
        parsed = [parse_id(i, f"ids.{n}") for n, i in enumerate(ids)] if ids is not None else None
        res = info.context.resources
        marked = await notifications.mark_read(
            res,
            viewer,
            ids=parsed,
            up_to=parse_id(up_to, "upTo") if up_to is not None else None,
        )
        return MarkNotificationsReadPayload(
            marked=marked, unread_count=await notifications.unread_count(res, viewer)
        )


@strawberry.type
class NotificationsSubscription:
    @strawberry.subscription(
        description="The viewer's new notifications as they are made (best effort: a "
        "reconnecting client reads `notifications` for what it missed)."
    )
    async def notification_added(self, info: UsersInfo) -> AsyncGenerator[Notification, None]:
        viewer = info.context.viewer.require_scope("read:profile")
        broker = info.context.loaders.notification_broker
        if broker is None:
            raise GraphQLError(
                "notifications are not served here", extensions={"code": "SERVICE_UNAVAILABLE"}
            )
        async with broker.subscribe(viewer) as sub:
            try:
                async for rec in sub.items():
                    yield Notification(rec=rec)
            except SubscriberDropped as exc:
                raise GraphQLError(str(exc), extensions={"code": exc.code}) from None
