"""GraphiQL, the GraphQL IDE, served to browsers at the GraphQL path (``graphiql`` key).

A browser that opens the GraphQL path (a ``GET`` whose ``Accept`` lists ``text/html``) gets
GraphiQL instead of a GraphQL-over-HTTP answer, as Apollo Router serves its sandbox there.
Queries and mutations go over HTTP POST to the same path, subscriptions over WebSocket
(graphql-transport-ws) with the headers editor's headers as the ``connection_init``
payload. Every file is in this package (``static/``: GraphiQL, React, our bootstrap), so
the IDE works offline; ``make vendor`` refreshes the vendored ones
(tools/vendor_browser_assets.py). Off unless ``graphiql.enabled`` is true, which needs
``supergraph.introspection`` (the IDE loads the schema by introspection).
"""

from __future__ import annotations

import functools
import hashlib
import html
from pathlib import Path

import orjson

from graph.http import respond
from graph.plugins.browser import GraphiQLConfig
from graph.serving.files import NOSNIFF, FileServer, not_found
from graph.serving.transports import Scope, Send

STATIC = Path(__file__).resolve().parent / "static"
ASSETS_PREFIX = "/-/graphiql/"  # + <version>/<file>
TEXT_HTML = b"text/html; charset=utf-8"
# Everything the page loads is ours: no inline script, no other origin. GraphiQL sets
# inline styles and uses data: URLs for icons.
CONTENT_SECURITY_POLICY = (
    b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    b"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
# the order the page loads them in (GraphiQL's bundle needs React and ReactDOM globals)
SCRIPTS = (
    "vendor/react.production.min.js",
    "vendor/react-dom.production.min.js",
    "vendor/graphiql.min.js",
    "puppies-ide.js",
)
STYLES = ("vendor/graphiql.min.css", "puppies-ide.css")


@functools.cache
def assets_version() -> str:
    """A digest of every asset: part of their URLs, so they can be cached for good."""
    digest = hashlib.sha256()
    for file in sorted(p for p in STATIC.rglob("*") if p.is_file()):
        digest.update(file.relative_to(STATIC).as_posix().encode() + b"\0")
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def accepts_html(accept: bytes | None) -> bool:
    """Whether ``Accept`` lists ``text/html`` (with q > 0): a browser opening the URL."""
    if not accept or b"text/html" not in accept.lower():
        return False
    for item in accept.decode("latin-1").split(","):
        media, *params = (p.strip() for p in item.split(";"))
        if media.lower() != "text/html":
            continue
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    return float(value) > 0
                except ValueError:
                    return False
        return True
    return False


class GraphiQL:
    """The IDE page for one router.yaml, and its assets."""

    def __init__(self, config: GraphiQLConfig, graphql_path: str) -> None:
        self.config = config
        self.graphql_path = graphql_path
        self.prefix = f"{ASSETS_PREFIX}{assets_version()}/"
        self.assets = FileServer(STATIC, cache_control=b"public, max-age=31536000, immutable")
        self.page = self._render()

    def _render(self) -> bytes:
        settings = {
            "endpoint": self.graphql_path,
            "title": self.config.title,
            "defaultQuery": self.config.default_query,
        }
        # JSON in a <script> element: "</" would end the element, so it is escaped
        data = orjson.dumps(settings).decode().replace("</", "<\\/")
        styles = "\n".join(f'<link rel="stylesheet" href="{self.prefix}{name}">' for name in STYLES)
        scripts = "\n".join(f'<script src="{self.prefix}{name}"></script>' for name in SCRIPTS)
        title = html.escape(self.config.title)
        return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
{styles}
<script id="graphiql-settings" type="application/json">{data}</script>
</head>
<body>
<div id="graphiql"><p class="loading">Loading {title}…</p></div>
<noscript>GraphiQL needs JavaScript. Send GraphQL requests to {html.escape(self.graphql_path)}
with POST.</noscript>
{scripts}
</body>
</html>
""".encode()

    async def serve_page(self, send: Send, method: str) -> int:
        headers = [
            (b"cache-control", b"no-cache"),
            (b"content-security-policy", CONTENT_SECURITY_POLICY),
            (b"referrer-policy", b"no-referrer"),
            (b"vary", b"accept"),
            NOSNIFF,
        ]
        if method == "HEAD":
            headers += [
                (b"content-type", TEXT_HTML),
                (b"content-length", str(len(self.page)).encode()),
            ]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return 200
        return await respond(send, 200, self.page, TEXT_HTML, headers)

    def owns(self, path: str) -> bool:
        return path.startswith(ASSETS_PREFIX)

    async def serve_asset(self, scope: Scope, send: Send) -> int:
        """``/-/graphiql/<version>/<file>``; another version's URL is a 404 (the page
        always names the current one)."""
        path: str = scope["path"]
        if not path.startswith(self.prefix):
            return await not_found(send, path)
        return await self.assets.serve(scope, send, path[len(self.prefix) :])
