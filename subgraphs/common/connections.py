"""Relay-style cursor connections: `edges { cursor node }` and `pageInfo`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import strawberry

from puppies.pagination import Page

NodeT = TypeVar("NodeT")


# Shareable: every subgraph defines these same value types (Federation 2 composition).
@strawberry.federation.type(shareable=True)
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.federation.type(shareable=True)
class Edge(Generic[NodeT]):
    cursor: str
    node: NodeT


@strawberry.federation.type(shareable=True)
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: PageInfo
    total_count: int | None = strawberry.field(
        default=None, description="Total items, where cheap to know (else null)."
    )


def connection_from_page(
    page: Page[Any], to_node: Callable[[Any], NodeT], total_count: int | None = None
) -> Connection[NodeT]:
    edges = [
        Edge(cursor=c, node=to_node(item)) for c, item in zip(page.cursors, page.items, strict=True)
    ]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=page.start_cursor,
            end_cursor=page.end_cursor,
        ),
        total_count=total_count,
    )
