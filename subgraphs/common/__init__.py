"""What every subgraph shares: the app factory, the request context, error codes,
relay connections. See `create_subgraph_app` and docs/users.md ("Building a subgraph")."""

from subgraphs.common.app import SubgraphSpec, build_schema, create_subgraph_app
from subgraphs.common.connections import (
    Connection,
    Edge,
    PageInfo,
    connection_from_page,
    page_size,
)
from subgraphs.common.context import Info, RequestContext

__all__ = [
    "Connection",
    "Edge",
    "Info",
    "PageInfo",
    "RequestContext",
    "SubgraphSpec",
    "build_schema",
    "connection_from_page",
    "create_subgraph_app",
    "page_size",
]
