"""``include_subgraph_errors``: whether a subgraph's own error messages reach the client.

When a subgraph's errors are not included, the router still reports that the subgraph
failed (with ``path`` and ``extensions.code``) but replaces the subgraph's message and
extensions, so internal details do not leak. Apollo Router's default is to redact.

This module is the one place that decides what a client sees of a subgraph's error:
:func:`format_subgraph_error` is used for errors in fetch results (graph/execution/executor.py)
and in subscription events (graph/execution/subscriptions.py) alike.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from graph.plugins.base import StrictModel

REDACTED = "Subgraph errors redacted"
DEFAULT_CODE = "DOWNSTREAM_SERVICE_ERROR"


class SubgraphErrorsConfig(StrictModel):
    """``include_subgraph_errors``: ``all`` and per-subgraph overrides."""

    all: bool = False
    subgraphs: dict[str, bool] = Field(default_factory=dict)

    def includes(self, subgraph: str) -> bool:
        return self.subgraphs.get(subgraph, self.all)


def format_subgraph_error(
    subgraph: str, error: Any, path: list[Any] | None, include: bool
) -> dict[str, Any]:
    """The error a client gets for ``error`` (one entry of a subgraph response's ``errors``)
    at response ``path``: the subgraph's own message and extensions (plus ``serviceName``)
    when ``include``, otherwise a fixed message keeping only ``extensions.code``."""
    if not isinstance(error, dict):
        return {"message": REDACTED, "extensions": {"code": DEFAULT_CODE}}
    raw = error.get("extensions")
    ext: dict[str, Any] = raw if isinstance(raw, dict) else {}
    code = ext.get("code")
    if not isinstance(code, str):
        code = DEFAULT_CODE
    if include:
        out: dict[str, Any] = {"message": str(error.get("message", "Subgraph error"))}
        if path is not None:
            out["path"] = path
        out["extensions"] = {**ext, "code": code, "serviceName": subgraph}
        return out
    out = {"message": REDACTED}
    if path is not None:
        out["path"] = path
    out["extensions"] = {"code": code}
    return out
