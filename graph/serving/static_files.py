"""``static_files``: directories the router serves as they are (Puppies' own key).

Development serves the web client (``web/``) at ``/app`` this way, on the router's own
origin, so the client calls the GraphQL path without CORS. A mount answers ``<path>`` with
a redirect to ``<path>/`` (so the page's relative URLs resolve below it) and
``<path>/<file>`` with the file (graph/serving/files.py: GET and HEAD, no way out of the
directory, ``no-cache`` so an edited file shows at the next reload).
"""

from __future__ import annotations

from pathlib import Path

from graph.http import respond
from graph.plugins.browser import StaticMount
from graph.serving.files import NOSNIFF, TEXT_PLAIN, FileServer
from graph.serving.transports import Scope, Send


class StaticFiles:
    """Every mount of ``static_files``; ``match`` finds the one a path is under."""

    def __init__(self, mounts: list[StaticMount]) -> None:
        self.mounts = [(m.path, FileServer(Path(m.dir), index=m.index)) for m in mounts]

    def __bool__(self) -> bool:
        return bool(self.mounts)

    def match(self, path: str) -> tuple[str, FileServer] | None:
        for prefix, server in self.mounts:
            if path == prefix or path.startswith(prefix + "/"):
                return prefix, server
        return None

    async def serve(self, scope: Scope, send: Send, prefix: str, server: FileServer) -> int:
        path: str = scope["path"]
        if path == prefix:
            query = scope.get("query_string", b"")
            location = prefix.encode() + b"/" + (b"?" + query if query else b"")
            return await respond(
                send,
                308,
                b"Moved to " + location + b"\n",
                TEXT_PLAIN,
                [(b"location", location), NOSNIFF],
            )
        return await server.serve(scope, send, path[len(prefix) + 1 :])
