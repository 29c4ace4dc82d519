"""Response-level ``extensions`` a resolver asks for, e.g. ``retryAfter``.

A resolver sets ``info.context.response_extensions["retryAfter"] = seconds`` (the log-in
throttle does); this extension adds them to the GraphQL response's ``extensions``, where the
router reads ``retryAfter`` and sends the client a ``Retry-After`` header
(graph/execution/executor.py, graph/serving/pipeline.py).
"""

from __future__ import annotations

from typing import Any

from strawberry.extensions import SchemaExtension


class ResponseHints(SchemaExtension):
    def get_results(self) -> dict[str, Any]:
        context = self.execution_context.context
        found = getattr(context, "response_extensions", None)
        return dict(found) if found else {}
