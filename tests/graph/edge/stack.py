"""The edge end to end: the real users (and posts) subgraphs, router processes started with
`puppies serve router`, the test session's PostgreSQL and Redis, real clients."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from graph.observability.health import PROBE_HEADER
from puppies.auth.keys import KeyRing
from puppies.auth.tokens import issue_access_token
from puppies.embedded import free_port
from puppies.settings import Settings
from tests.subgraphs.users.conftest import PASSWORD, SIGN_UP
from tests.support.servers import run_cli

SECRET = "edge-tests-router-principal-secret-0123456789"
CREATE_KEY = """mutation($n: String!, $s: [String!]!) {
  createApiKey(input: {name: $n, scopes: $s}) { key apiKey { id tier } errors { code } } }"""
REVOKE_KEY = "mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }"
ME = "{ me { id username } }"


class RequestCounter:
    """ASGI middleware counting the GraphQL requests a subgraph receives (not the router's
    readiness probes, which come every few seconds whatever the test does)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.graphql = 0
        self.state = getattr(app, "state", None)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket") and scope.get("path") == "/graphql":
            probe = any(name == PROBE_HEADER.encode() for name, _ in scope.get("headers", ()))
            if not probe:
                self.graphql += 1
        await self.app(scope, receive, send)


def router_config(users_url: str, redis_url: str, **overrides: Any) -> dict[str, Any]:
    """router.yaml for the tests: JWT against the users JWKS, API keys through its internal
    endpoint with revocations over Redis, the signed principal to subgraphs."""
    config: dict[str, Any] = {
        "supergraph": {"introspection": True},
        "include_subgraph_errors": {"all": True},
        "authentication": {
            "router": {
                "jwt": {
                    "jwks": [
                        {
                            "url": f"{users_url}/.well-known/jwks.json",
                            "issuer": "puppies",
                            "audiences": ["puppies"],
                            "algorithms": ["ES256"],
                        }
                    ]
                },
                "api_keys": {
                    "verify_url": f"{users_url}/internal/api-keys/verify",
                    "cache_ttl": "1h",  # only a revocation message can end a cached key
                    "revocations": {"redis": {"urls": [redis_url]}},
                },
            },
            "subgraph": {"principal": {"secret": SECRET}},
        },
        # the directives of the supergraph, as the dev router.yaml enforces them
        "authorization": {
            "directives": {"user_scopes": "all", "policies": {"session": {"kinds": ["user"]}}}
        },
    }
    for key, value in overrides.items():
        config[key] = value
    return config


@dataclass
class Router:
    url: str

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/graphql"


@dataclass
class Edge:
    settings: Settings
    users_url: str
    users: RequestCounter
    supergraph: Path
    workdir: Path
    env: dict[str, str]
    http: httpx.AsyncClient
    routers: list[Router] = field(default_factory=list)
    posts_app: Any = None
    posts_url: str | None = None
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def start_router(self, config: dict[str, Any], name: str = "router") -> Router:
        path = self.workdir / f"{name}-{len(self.routers)}.yaml"
        path.write_text(yaml.safe_dump(config))
        port = free_port()
        self._stack.enter_context(
            run_cli(
                [
                    "serve",
                    "router",
                    "--supergraph",
                    str(self.supergraph),
                    "--config",
                    str(path),
                    "--listen",
                    f"127.0.0.1:{port}",
                ],
                self.env,
                port=port,
            )
        )
        router = Router(f"http://127.0.0.1:{port}")
        self.routers.append(router)
        return router

    def close(self) -> None:
        self._stack.close()

    async def subscribed(self, n: int) -> None:
        """Wait until the posts process has ``n`` live-like subscriptions registered."""
        broker = self.posts_app.state.like_broker
        await until(_at_least(broker, n))

    # ---- credentials
    async def sign_up(self, username: str) -> tuple[str, str]:
        """(user id, access token) of a new account, signed up through the users subgraph."""
        response = await self.http.post(
            f"{self.users_url}/graphql",
            json={
                "query": SIGN_UP,
                "variables": {"u": username, "e": f"{username}@example.com", "p": PASSWORD},
            },
            headers=self.direct_headers(),
        )
        session = response.json()["data"]["signUp"]["session"]
        return session["user"]["id"], session["accessToken"]

    def direct_headers(self) -> dict[str, str]:
        """Headers for calling the users subgraph directly as the router would (signed)."""
        from graph.authentication.principal_token import ROUTER, PrincipalSigner

        return {"x-puppies-principal": PrincipalSigner(SECRET).token_for(ROUTER)}

    async def api_key(
        self, router: Router, token: str, scopes: list[str] | None = None
    ) -> tuple[str, str]:
        """(key id, key) created through ``router`` with the session ``token``."""
        body = await post(
            router,
            CREATE_KEY,
            {"n": "partner", "s": scopes or ["read:profile", "read:posts"]},
            headers={"authorization": f"Bearer {token}"},
        )
        created = body.json()["data"]["createApiKey"]
        return created["apiKey"]["id"], created["key"]

    def token(self, user_id: str, *, age: float = 0.0, ttl: int = 900, **settings: Any) -> str:
        """An access token signed with the users subgraph's own key (``age`` seconds old)."""
        keyring = KeyRing(self.settings.keys_dir).load()
        issuer = self.settings.model_copy(update=settings) if settings else self.settings
        return issue_access_token(
            keyring, issuer, int(user_id), now=time.time() - age, ttl_seconds=ttl
        ).token


async def post(
    router: Router,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    headers: dict[str, str] | None = None,
    accept: str | None = None,
) -> httpx.Response:
    h = dict(headers or {})
    if accept is not None:
        h["accept"] = accept
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(
            router.url + "/graphql",
            json={"query": query, "variables": variables or {}},
            headers=h,
        )


async def ws_operation(
    router: Router, init: dict[str, Any], query: str, variables: dict[str, Any] | None = None
) -> tuple[str, Any]:
    """("closed", (code, reason)) when the socket is closed, else ("next"|"error", payload)."""
    async with connect(router.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": init}))
        try:
            ack = await _recv(ws)
            assert ack["type"] == "connection_ack", ack
            await ws.send(
                json.dumps(
                    {
                        "type": "subscribe",
                        "id": "1",
                        "payload": {"query": query, "variables": variables or {}},
                    }
                )
            )
            message = await _recv(ws)
            return message["type"], message.get("payload")
        except ConnectionClosed as closed:
            frame = closed.rcvd
            assert frame is not None
            return "closed", (frame.code, frame.reason)


async def _recv(ws: ClientConnection) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 30))
    return data


async def until(predicate: Any, timeout: float = 10.0, interval: float = 0.02) -> float:
    """Await ``predicate()`` until it is true; the seconds it took (AssertionError if never)."""
    started = time.perf_counter()
    while True:
        if await predicate():
            return time.perf_counter() - started
        if time.perf_counter() - started > timeout:
            raise AssertionError(f"not true within {timeout}s")
        await asyncio.sleep(interval)


def _at_least(broker: Any, n: int) -> Any:
    async def check() -> bool:
        return bool(broker.subscriber_count >= n)

    return check
