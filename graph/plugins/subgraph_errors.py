"""``include_subgraph_errors``: whether a subgraph's own error messages reach the client.

When a subgraph's errors are not included, the router still reports that the subgraph
failed (with ``path`` and ``extensions.code``) but replaces the subgraph's message and
extensions, so internal details do not leak. Apollo Router's default is to redact.
"""

from __future__ import annotations

from pydantic import Field

from graph.plugins.base import StrictModel


class SubgraphErrorsConfig(StrictModel):
    """``include_subgraph_errors``: ``all`` and per-subgraph overrides."""

    all: bool = False
    subgraphs: dict[str, bool] = Field(default_factory=dict)

    def includes(self, subgraph: str) -> bool:
        return self.subgraphs.get(subgraph, self.all)
