"""The analytics subgraph's schema: trackEvents, Post.stats, User.analytics, trendingPosts."""

from __future__ import annotations

import strawberry

from resolvers.analytics.ingest import EventInput as EventRecord
from subgraphs.analytics.types import (
    EventInput,
    EventRejection,
    Post,
    RejectionReason,
    TrackEventsPayload,
    TrendingWindow,
    User,
    loaders,
)
from subgraphs.common import Info, build_schema


@strawberry.type
class Query:
    @strawberry.field(description="The posts with the most engagement in the last hour, day "
                      "or week (views + 3 likes + 5 comments + 5 shares), best first.")
    async def trending_posts(self, info: Info, window: TrendingWindow = TrendingWindow.DAY,
                             limit: int = 10) -> list[Post]:
        ids = await loaders(info).trending(window.value, limit)
        return [Post(id=strawberry.ID(str(i))) for i in ids]


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Record a batch of up to 500 client events. Each event "
                         "is accepted or rejected on its own, with a reason.")
    async def track_events(self, info: Info, events: list[EventInput]) -> TrackEventsPayload:
        records = [EventRecord(id=e.id, type=e.type, occurred_at=e.occurred_at,
                               post_id=e.post_id, user_id=e.user_id) for e in events]
        result = await loaders(info).track(records)
        return TrackEventsPayload(
            accepted=result.accepted,
            rejected=len(result.rejected),
            rejections=[EventRejection(index=r.index, id=r.id,
                                       reason=RejectionReason(r.reason), message=r.message)
                        for r in result.rejected],
        )


schema = build_schema(Query, Mutation, types=[Post, User])
