"""Strawberry types of the analytics subgraph. Thin: every field calls resolvers/analytics."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.federation.schema_directives import Cost, ListSize

from resolvers.analytics import dashboards
from resolvers.analytics.ingest import Reason
from resolvers.analytics.loaders import AnalyticsLoaders
from resolvers.ids import parse_id
from subgraphs.common import Info

AnalyticsInfo = Info[AnalyticsLoaders]

# Dashboards need a logged-in owner (checked here) and, for an API key, this scope (checked
# by the router's @requiresScopes and again here).
READ_ANALYTICS = [[dashboards.SCOPE]]


def by_limit(default: int) -> ListSize:
    """`@listSize` for a list of at most `limit` items (`default` when not given)."""
    return ListSize(
        assumed_size=default,
        slicing_arguments=["limit"],
        sized_fields=[],
        require_one_slicing_argument=False,
    )


From = Annotated[
    dt.datetime | None,
    strawberry.argument(
        name="from",
        description="Start (inclusive); default 30 days before `to`. Widened to the whole hour.",
    ),
]
To = Annotated[
    dt.datetime | None,
    strawberry.argument(description="End (exclusive); default now. Widened to the whole hour."),
]


@strawberry.enum(description="Why trackEvents rejected an event.")
class RejectionReason(Enum):
    INVALID_ID = Reason.INVALID_ID
    UNKNOWN_TYPE = Reason.UNKNOWN_TYPE
    MISSING_FIELD = Reason.MISSING_FIELD
    INVALID_REFERENCE = Reason.INVALID_REFERENCE
    IN_FUTURE = Reason.IN_FUTURE
    TOO_OLD = Reason.TOO_OLD
    DUPLICATE_ID = Reason.DUPLICATE_ID


@strawberry.enum
class TrendingWindow(Enum):
    HOUR = "HOUR"
    DAY = "DAY"
    WEEK = "WEEK"


@strawberry.input(description="One client event.")
class EventInput:
    id: str = strawberry.field(
        description="Made by the client, unique per event (a UUID): a "
        "retried batch with the same ids is not counted twice."
    )
    type: str = strawberry.field(
        description="POST_VIEW (needs postId), SHARE (needs postId), "
        "PROFILE_VIEW (needs userId) or APP_OPEN."
    )
    occurred_at: dt.datetime = strawberry.field(
        description="When it happened: not in the future, not older than the ingestion window."
    )
    post_id: strawberry.ID | None = None
    user_id: strawberry.ID | None = None


@strawberry.type
class EventRejection:
    index: int = strawberry.field(description="Position of the event in the batch.")
    id: str
    reason: RejectionReason
    message: str


@strawberry.type
class TrackEventsPayload:
    accepted: int = strawberry.field(description="Events recorded by this call.")
    rejected: int
    rejections: list[EventRejection] = strawberry.field(
        description="One entry per rejected event, in batch order."
    )


@strawberry.type
class PostDailyStats:
    date: dt.date
    views: int
    likes: int = strawberry.field(description="Likes minus unlikes that day.")
    comments: int
    shares: int


@strawberry.type
class PostStats:
    views: int
    likes: int = strawberry.field(description="Likes minus unlikes in the range.")
    comments: int
    shares: int
    daily: list[PostDailyStats] = strawberry.field(
        description="Every UTC date of the range, oldest first, zero-filled."
    )

    @classmethod
    def of(cls, s: dashboards.PostStats) -> PostStats:
        return cls(
            views=s.views,
            likes=s.likes,
            comments=s.comments,
            shares=s.shares,
            daily=[
                PostDailyStats(
                    date=d.date, views=d.views, likes=d.likes, comments=d.comments, shares=d.shares
                )
                for d in s.daily
            ],
        )


@strawberry.federation.type(keys=["id"])
class Post:
    id: strawberry.ID

    @strawberry.federation.field(
        description="Views, likes, comments and shares of this post over a "
        "period, from the rollups. Only the post's author may read them.",
        requires_scopes=READ_ANALYTICS,
        directives=[Cost(weight=5)],
    )
    async def stats(
        self, info: AnalyticsInfo, from_: From = None, to: To = None
    ) -> PostStats | None:
        post_id = parse_id(self.id, "id")
        return PostStats.of(await info.context.loaders.stats_for_post(post_id, from_, to))

    @classmethod
    def resolve_reference(cls, id: strawberry.ID, info: AnalyticsInfo) -> Post:
        return cls(id=id)


@strawberry.type
class TopPost:
    post: Post | None
    views: int
    likes: int
    comments: int
    shares: int


@strawberry.type
class UserDailyAnalytics:
    date: dt.date
    post_views: int
    likes_received: int
    comments_received: int
    followers_gained: int
    profile_views: int


@strawberry.type
class UserAnalytics:
    data: strawberry.Private[dashboards.UserAnalytics]

    @strawberry.field(description="Views of this user's posts.")
    def post_views(self) -> int:
        return self.data.post_views

    @strawberry.field(description="Likes minus unlikes on this user's posts.")
    def likes_received(self) -> int:
        return self.data.likes_received

    @strawberry.field
    def comments_received(self) -> int:
        return self.data.comments_received

    @strawberry.field(description="Follows minus unfollows.")
    def followers_gained(self) -> int:
        return self.data.followers_gained

    @strawberry.field
    def profile_views(self) -> int:
        return self.data.profile_views

    @strawberry.field(description="Every UTC date of the range, oldest first, zero-filled.")
    def daily(self) -> list[UserDailyAnalytics]:
        return [
            UserDailyAnalytics(
                date=d.date,
                post_views=d.post_views,
                likes_received=d.likes_received,
                comments_received=d.comments_received,
                followers_gained=d.followers_gained,
                profile_views=d.profile_views,
            )
            for d in self.data.daily
        ]

    @strawberry.field(
        description="This user's most viewed posts in the range.", directives=[by_limit(5)]
    )
    async def top_posts(self, info: AnalyticsInfo, limit: int = 5) -> list[TopPost]:
        top = await info.context.loaders.top_posts(self.data, limit)
        return [
            TopPost(
                post=Post(id=strawberry.ID(str(t.post_id))),
                views=t.views,
                likes=t.likes,
                comments=t.comments,
                shares=t.shares,
            )
            for t in top
        ]


@strawberry.federation.type(keys=["id"])
class User:
    id: strawberry.ID

    @strawberry.federation.field(
        description="This user's dashboard over a period, from the rollups. "
        "Only the user themselves may read it.",
        requires_scopes=READ_ANALYTICS,
        directives=[Cost(weight=10)],
    )
    async def analytics(
        self, info: AnalyticsInfo, from_: From = None, to: To = None
    ) -> UserAnalytics | None:
        user_id = parse_id(self.id, "id")
        return UserAnalytics(data=await info.context.loaders.analytics_for_user(user_id, from_, to))

    @classmethod
    def resolve_reference(cls, id: strawberry.ID, info: AnalyticsInfo) -> User:
        return cls(id=id)
