"""Pooled keep-alive HTTP connections to subgraphs (one aiohttp session per subgraph)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson

from graph.execution.errors import SubgraphFetchError

_BASE_HEADERS = {
    "content-type": "application/json",
    "accept": "application/graphql-response+json, application/json",
}


class SubgraphClient:
    """Sends GraphQL requests to one subgraph over a pool of keep-alive connections."""

    def __init__(self, name: str, url: str, timeout: float, max_connections: int,
                 headers: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.url = url
        self.timeout = timeout
        self.max_connections = max_connections
        self.static_headers = {**_BASE_HEADERS, **(headers or {})}
        self._session: aiohttp.ClientSession | None = None
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    def _get_session(self) -> aiohttp.ClientSession:
        s = self._session
        if s is None or s.closed:
            connector = aiohttp.TCPConnector(limit=self.max_connections, keepalive_timeout=60,
                                             ttl_dns_cache=300)
            s = aiohttp.ClientSession(connector=connector, timeout=self._timeout,
                                      json_serialize=lambda o: orjson.dumps(o).decode(),
                                      skip_auto_headers=("User-Agent",))
            self._session = s
        return s

    async def post(self, body: dict[str, Any],
                   headers: Mapping[str, str] | None = None) -> dict[str, Any]:
        session = self._get_session()
        hdrs = self.static_headers if not headers else {**self.static_headers, **headers}
        try:
            async with session.post(self.url, data=orjson.dumps(body), headers=hdrs) as resp:
                raw = await resp.read()
                status = resp.status
        except TimeoutError as exc:
            raise SubgraphFetchError(
                self.name, f"subgraph '{self.name}' did not answer within {self.timeout:g}s",
                "SUBREQUEST_TIMEOUT") from exc
        except (aiohttp.ClientError, OSError, asyncio.CancelledError) as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise SubgraphFetchError(
                self.name, f"HTTP fetch failed from '{self.name}': {exc}",
                "SUBREQUEST_HTTP_ERROR") from exc
        try:
            payload = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise SubgraphFetchError(
                self.name,
                f"HTTP fetch failed from '{self.name}': {status} with a body that is not JSON",
                "SUBREQUEST_HTTP_ERROR") from exc
        if not isinstance(payload, dict) or ("data" not in payload and "errors" not in payload):
            raise SubgraphFetchError(
                self.name, f"HTTP fetch failed from '{self.name}': {status} without a GraphQL "
                "response", "SUBREQUEST_HTTP_ERROR")
        return payload

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
