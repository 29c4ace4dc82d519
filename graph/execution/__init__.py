"""Execution: a QueryPlan -> subgraph fetches -> the merged, shaped response; the Gateway."""

from graph.execution.errors import GatewayError, RequestError, SubgraphFetchError
from graph.execution.gateway import Gateway, GatewayOptions, PreparedOperation, SubgraphOptions

__all__ = [
    "Gateway",
    "GatewayError",
    "GatewayOptions",
    "PreparedOperation",
    "RequestError",
    "SubgraphFetchError",
    "SubgraphOptions",
]
