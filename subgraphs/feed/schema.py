"""The feed subgraph's schema: `Query.feed(first, after): FeedConnection!`.

A degraded answer (popular posts instead of the viewer's inbox, see resolvers/feed/read.py)
is flagged in the response's top-level `extensions.feed`:
`{"degraded": true, "reason": "TIMEOUT" | "INBOX_UNAVAILABLE"}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import strawberry
from strawberry.extensions import SchemaExtension

from puppies.pagination import PageRequest, encode_cursor
from resolvers.feed.read import read_feed
from subgraphs.common import Info, PageInfo, build_schema, page_size
from subgraphs.feed.types import FeedConnection, FeedEdge, Post


@dataclass
class FeedRequestState:
    """Per-request state (the context's `loaders` slot): whether the answer was degraded."""

    degraded_reason: str | None = None


FeedInfo = Info[FeedRequestState]


def feed_edges(post_ids: list[int]) -> list[FeedEdge]:
    """`FeedEdge(cursor=encode_cursor(i), node=Post(id=ID(str(i))))` of each id, the same
    objects made without the dataclasses' keyword `__init__` (half the cost of a page's 20
    edges; tests/subgraphs/feed/test_feed_edges.py)."""
    new_edge, new_post, cursor = FeedEdge.__new__, Post.__new__, encode_cursor
    edges = []
    for post_id in post_ids:
        node = new_post(Post)
        node.id = strawberry.ID(str(post_id))
        edge = new_edge(FeedEdge)
        edge.cursor = cursor(post_id)
        edge.node = node
        edges.append(edge)
    return edges


@strawberry.type
class Query:
    @strawberry.federation.field(
        description="The viewer's home feed, newest first. Authentication "
        "required; `first` is at most 100 (MAX_PAGE_SIZE).",
        authenticated=True,
        directives=[page_size()],
    )
    async def feed(
        self, info: FeedInfo, first: int | None = 20, after: str | None = None
    ) -> FeedConnection | None:
        viewer_id = info.context.viewer.require_user()
        request = PageRequest.build(info.context.settings, first, after)
        page = await read_feed(info.context.resources, viewer_id, request)
        if page.degraded:
            info.context.loaders.degraded_reason = page.degraded_reason
        edges = feed_edges([i.post_id for i in page.items])
        return FeedConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=request.after is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )


class DegradedFlag(SchemaExtension):
    """Puts `{"feed": {"degraded": true, "reason": ...}}` in the response extensions."""

    def get_results(self) -> dict[str, Any]:
        state = getattr(self.execution_context.context, "loaders", None)
        if isinstance(state, FeedRequestState) and state.degraded_reason:
            return {"feed": {"degraded": True, "reason": state.degraded_reason}}
        return {}


schema = build_schema(Query, types=[Post], extensions=[DegradedFlag])
