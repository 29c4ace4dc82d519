"""``traffic_shaping``: per-subgraph request timeouts (``all`` and per-subgraph overrides)."""

from __future__ import annotations

from pydantic import Field

from graph.plugins.base import Duration, StrictModel

DEFAULT_SUBGRAPH_TIMEOUT = 30.0


class SubgraphShaping(StrictModel):
    """Traffic shaping for one subgraph (or all): ``timeout`` as a duration, e.g. ``"30s"``."""

    timeout: Duration | None = None


class TrafficShapingConfig(StrictModel):
    """``traffic_shaping``: ``all.timeout`` and ``subgraphs.<name>.timeout``."""

    all: SubgraphShaping = Field(default_factory=SubgraphShaping)
    subgraphs: dict[str, SubgraphShaping] = Field(default_factory=dict)

    @property
    def default_timeout(self) -> float:
        """Seconds a fetch may take when its subgraph has no timeout of its own."""
        return self.all.timeout if self.all.timeout is not None else DEFAULT_SUBGRAPH_TIMEOUT

    def timeout_for(self, subgraph: str) -> float:
        """Seconds a fetch to ``subgraph`` may take (the per-subgraph value, else ``all``)."""
        own = self.subgraphs.get(subgraph)
        if own is not None and own.timeout is not None:
            return own.timeout
        return self.default_timeout
