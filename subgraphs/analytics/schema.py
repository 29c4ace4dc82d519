"""The analytics subgraph's schema: trackEvents, Post.stats, User.analytics, trendingPosts."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLResolveInfo
from strawberry.federation.schema_directives import Cost

from resolvers.analytics.ingest import EventInput as EventRecord
from resolvers.analytics.ingest import TrackResult
from resolvers.analytics.loaders import AnalyticsLoaders
from subgraphs.analytics.types import (
    AnalyticsInfo,
    EventInput,
    EventRejection,
    Post,
    RejectionReason,
    TrackEventsPayload,
    TrendingWindow,
    User,
    by_limit,
)
from subgraphs.common import RequestContext, build_schema
from subgraphs.common.inputs import raw_arguments


@strawberry.type
class Query:
    @strawberry.field(
        description="The posts with the most engagement in the last hour, day "
        "or week (views + 3 likes + 5 comments + 5 shares), best first.",
        directives=[Cost(weight=5), by_limit(10)],
    )
    async def trending_posts(
        self, info: AnalyticsInfo, window: TrendingWindow = TrendingWindow.DAY, limit: int = 10
    ) -> list[Post | None] | None:
        ids = await info.context.loaders.trending(window.value, limit)
        return [Post(id=strawberry.ID(str(i))) for i in ids]


async def _track_events_raw(
    _root: object, info: GraphQLResolveInfo, events: list[dict[str, Any]]
) -> TrackEventsPayload:
    """trackEvents on graphql-core's coerced `events` (dicts; types, non-null fields and
    DateTime already checked), without Strawberry rebuilding 100 input objects field by
    field (most of the subgraph's CPU for a batch: bench/RESULTS.md). Same result as the
    resolver below, which declares the field; text is judged per event by the resolvers."""
    context: RequestContext[AnalyticsLoaders] = info.context
    records = [
        EventRecord(
            id=e["id"],
            type=e["type"],
            occurred_at=e["occurredAt"],
            post_id=e.get("postId"),
            user_id=e.get("userId"),
        )
        for e in events
    ]
    return _payload(await context.loaders.track(records))


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Record a batch of up to 500 client events. Each event "
        "is accepted or rejected on its own, with a reason.",
        metadata=raw_arguments(_track_events_raw),
    )
    async def track_events(
        self, info: AnalyticsInfo, events: list[EventInput]
    ) -> TrackEventsPayload | None:
        records = [
            EventRecord(
                id=e.id,
                type=e.type,
                occurred_at=e.occurred_at,
                post_id=e.post_id,
                user_id=e.user_id,
            )
            for e in events
        ]
        return _payload(await info.context.loaders.track(records))


def _payload(result: TrackResult) -> TrackEventsPayload:
    return TrackEventsPayload(
        accepted=result.accepted,
        rejected=len(result.rejected),
        rejections=[
            EventRejection(
                index=r.index, id=r.id, reason=RejectionReason(r.reason), message=r.message
            )
            for r in result.rejected
        ],
    )


schema = build_schema(Query, Mutation, types=[Post, User])
