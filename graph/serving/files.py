"""Files served to browsers over HTTP: the IDE's assets and ``static_files`` directories.

One small, careful file server: only ``GET`` and ``HEAD``; the request path is decoded and
resolved under the root, and anything that leaves it (``..``, symlinks out, NUL bytes,
backslashes) is a 404; a directory is its ``index.html``; the content type comes from the
file name, with ``X-Content-Type-Options: nosniff``; an ``ETag`` answers ``If-None-Match``
with 304. Files are read when asked for, so an edited file is served at once.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from graph.http import NOSNIFF, respond
from graph.serving.transports import Scope, Send

TEXT_PLAIN = b"text/plain; charset=utf-8"
# mimetypes depends on the machine's /etc/mime.types: pin what browsers are strict about
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    ".webmanifest": "application/manifest+json",
}


def content_type(name: str) -> bytes:
    suffix = Path(name).suffix.lower()
    known = _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return known.encode()


def request_header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


async def not_found(send: Send, path: str, hint: str = "") -> int:
    body = f"Not found: {path}{hint}\n".encode()
    return await respond(send, 404, body, TEXT_PLAIN, [NOSNIFF])


@dataclass
class FileServer:
    """Serves the files under ``root``.

    ``cache_control`` is sent with every file: ``no-cache`` (revalidate each time, for
    files a developer edits) or an immutable max-age for versioned URLs.
    """

    root: Path
    cache_control: bytes = b"no-cache"
    index: str = "index.html"
    extra_headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root = self.root.resolve()

    def resolve(self, relative: str) -> Path | None:
        """The file for a URL path below the root, or None when there is none (or the path
        tries to leave the root)."""
        decoded = unquote(relative)
        if "\x00" in decoded or "\\" in decoded:
            return None
        parts = [p for p in decoded.split("/") if p not in ("", ".")]
        if any(p == ".." for p in parts):
            return None
        candidate = self.root.joinpath(*parts)
        try:
            resolved = candidate.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if resolved != self.root and self.root not in resolved.parents:
            return None
        if resolved.is_dir():
            resolved = resolved / self.index
        return resolved if resolved.is_file() else None

    async def serve(self, scope: Scope, send: Send, relative: str) -> int:
        """Answer a request for ``relative`` (the URL path below the mount point)."""
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            return await respond(
                send,
                405,
                f"Method {method} is not allowed here; use GET.\n".encode(),
                TEXT_PLAIN,
                [(b"allow", b"GET, HEAD"), NOSNIFF],
            )
        file = self.resolve(relative)
        if file is None:
            return await not_found(send, scope["path"])
        try:
            body = file.read_bytes()
        except OSError:
            return await not_found(send, scope["path"])
        etag = b'"' + hashlib.sha256(body).hexdigest()[:32].encode() + b'"'
        headers = [
            (b"etag", etag),
            (b"cache-control", self.cache_control),
            NOSNIFF,
            *self.extra_headers,
        ]
        if request_header(scope, b"if-none-match") == etag:
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return 304
        if method == "HEAD":
            headers += [
                (b"content-length", str(len(body)).encode()),
                (b"content-type", content_type(file.name)),
            ]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return 200
        return await respond(send, 200, body, content_type(file.name), headers)
