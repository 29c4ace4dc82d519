"""Transports: thin adapters between a wire protocol and the request pipeline.

Each one turns what arrived into a :class:`graph.serving.request.RouterRequest`, calls
``Pipeline.run`` and writes the outcome (a ``Response`` or a ``Stream``) in its format.
They never decide about an operation themselves: every policy lives in a stage, so it
holds on every transport. A transport gets the current pipeline from a ``PipelineSource``
(a hot reload swaps it), once per request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graph.serving.pipeline import Pipeline

PipelineSource = Callable[[], "Pipeline"]
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def peer(scope: Scope) -> str | None:
    """The peer address of the connection (a proxy's, behind one; see plugins/client_ip.py)."""
    client = scope.get("client")
    return str(client[0]) if client else None
