"""The feed subgraph's types. `Post` is known here only by its key: the posts subgraph
resolves its fields, the router joins them (Federation 2, `@key(resolvable: false)`)."""

from __future__ import annotations

import strawberry
from strawberry.federation.schema_directives import Key
from strawberry.federation.types import FieldSet

from subgraphs.common import PageInfo


@strawberry.federation.type(keys=[Key(fields=FieldSet("id"), resolvable=False)])
class Post:
    id: strawberry.ID


@strawberry.type(description="A post in the viewer's home feed, with its cursor.")
class FeedEdge:
    cursor: str
    node: Post | None = strawberry.field(
        description="Null when the post cannot be shown any more (deleted meanwhile)."
    )


@strawberry.type(description="A page of the viewer's home feed, newest first.")
class FeedConnection:
    edges: list[FeedEdge]
    page_info: PageInfo
