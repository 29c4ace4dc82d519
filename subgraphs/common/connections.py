"""Relay-style cursor connections: `edges { cursor node }`, `pageInfo` and `totalCount`.

`totalCount` is a number, or a coroutine function (typically a DataLoader's `load`) that
runs only when a client asks for it, so a list whose total costs a statement pays it only
then, batched per level like every other field.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import strawberry
from strawberry.federation.schema_directives import ListSize

from puppies.pagination import Page

NodeT = TypeVar("NodeT")

# The router's demand control sizes a connection's `edges` by its `first` argument, or
# assumes a default page (settings.default_page_size) when `first` is not given.
DEFAULT_PAGE = 20


def page_size(assumed: int = DEFAULT_PAGE) -> ListSize:
    """`@listSize` for a connection field paged by `first`."""
    return ListSize(
        assumed_size=assumed,
        slicing_arguments=["first"],
        sized_fields=["edges"],
        require_one_slicing_argument=False,
    )


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


Total = int | Callable[[], Awaitable[int]] | None


@strawberry.federation.type(shareable=True)
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: PageInfo
    total: strawberry.Private[Total] = None

    @strawberry.field(description="Total items, where cheap to know (else null).")
    async def total_count(self) -> int | None:
        total = self.total
        if total is None or isinstance(total, int):
            return total
        return await total()


def connection_from_page(
    page: Page[Any], to_node: Callable[[Any], NodeT], total_count: Total = None
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
        total=total_count,
    )
