"""Authentication at the router, end to end: real router processes (`puppies serve router`),
the real users subgraph (JWKS, API keys), PostgreSQL and Redis.

Every failing credential is refused before any subgraph is called: HTTP 401 with
`WWW-Authenticate: Bearer error="invalid_token"` and `UNAUTHENTICATED` (also when the client
asked for server-sent events), WebSocket close 4403. A revoked key stops working on every
router process as soon as the revocation is published; subgraphs trust only the router's
signed principal, and in production refuse requests that do not carry it."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from graph.authentication.principal_token import PrincipalSigner
from graph.serving.request import Principal
from puppies.auth.keys import KeyRing
from tests.graph.edge.conftest import EdgeFactory
from tests.graph.edge.stack import (
    ME,
    REVOKE_KEY,
    Edge,
    Router,
    post,
    router_config,
    until,
    ws_operation,
)


def unauthenticated(response: httpx.Response) -> str:
    """The error message of a 401 answer (after checking everything else about it)."""
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    body = response.json()
    assert "data" not in body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
    message: str = body["errors"][0]["message"]
    return message


async def bad_credentials(edge: Edge, router: Router) -> dict[str, dict[str, str]]:
    """Headers for each way a credential can fail."""
    user_id, token = await edge.sign_up("mallory")
    _, revoked_key = await edge.api_key(router, token)
    key_id, _ = await edge.api_key(router, token)
    body = await post(
        router, REVOKE_KEY, {"id": key_id}, headers={"authorization": f"Bearer {token}"}
    )
    assert body.json()["data"]["revokeApiKey"]["revokedAt"]
    # the revoked key: created, then revoked through the router
    revoked_id, revoked_key = await edge.api_key(router, token)
    await post(router, REVOKE_KEY, {"id": revoked_id}, headers={"authorization": f"Bearer {token}"})
    tampered = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    return {
        "expired": {"authorization": f"Bearer {edge.token(user_id, age=3600, ttl=60)}"},
        "bad signature": {"authorization": f"Bearer {tampered}"},
        "unknown issuer": {"authorization": f"Bearer {edge.token(user_id, jwt_issuer='evil')}"},
        "other audience": {"authorization": f"Bearer {edge.token(user_id, jwt_audience='x')}"},
        "not a JWT": {"authorization": "Bearer not-a-token"},
        "wrong scheme": {"authorization": f"Basic {token}"},
        "revoked key": {"x-api-key": revoked_key},
        "revoked key as bearer": {"authorization": f"Bearer {revoked_key}"},
        "unknown key": {"x-api-key": f"pk_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"},
        "malformed key": {"x-api-key": "pk_nonsense"},
    }


async def test_every_failing_credential_is_401_before_any_subgraph(edge: Edge) -> None:
    router = edge.start_router(router_config(edge.users_url, str(edge.settings.redis_url)))
    cases = await bad_credentials(edge, router)
    before = edge.users.graphql
    for name, headers in cases.items():
        message = unauthenticated(await post(router, ME, headers=headers))
        assert message, name
        # the same refusal when the client asked for an event stream
        unauthenticated(await post(router, ME, headers=headers, accept="text/event-stream"))
    assert edge.users.graphql == before  # no subgraph request for any of them
    expired = unauthenticated(await post(router, ME, headers=cases["expired"]))
    assert "expired" in expired
    assert "issuer" in unauthenticated(await post(router, ME, headers=cases["unknown issuer"]))
    assert "revoked" in unauthenticated(await post(router, ME, headers=cases["revoked key"]))


async def test_every_failing_credential_closes_the_websocket_with_4403(edge: Edge) -> None:
    router = edge.start_router(router_config(edge.users_url, str(edge.settings.redis_url)))
    cases = await bad_credentials(edge, router)
    for name, headers in cases.items():
        outcome, detail = await ws_operation(router, headers, ME)
        assert outcome == "closed", (name, outcome, detail)
        assert detail[0] == 4403, (name, detail)
    # in a nested "headers" object, as some clients send them
    outcome, detail = await ws_operation(router, {"headers": cases["expired"]}, ME)
    assert (outcome, detail[0]) == ("closed", 4403)


async def test_good_credentials_reach_the_subgraph_as_the_signed_principal(edge: Edge) -> None:
    router = edge.start_router(router_config(edge.users_url, str(edge.settings.redis_url)))
    user_id, token = await edge.sign_up("alice")
    _, key = await edge.api_key(router, token)
    anonymous = await post(router, ME)
    assert anonymous.json() == {"data": {"me": None}}
    as_user = await post(router, ME, headers={"authorization": f"Bearer {token}"})
    assert as_user.json() == {"data": {"me": {"id": user_id, "username": "alice"}}}
    for headers in ({"x-api-key": key}, {"authorization": f"Bearer {key}"}):
        as_key = await post(router, ME, headers=headers)
        assert as_key.json() == {"data": {"me": {"id": user_id, "username": "alice"}}}
    # over WebSocket, with the token in connection_init
    outcome, payload = await ws_operation(router, {"Authorization": f"Bearer {token}"}, ME)
    assert (outcome, payload) == ("next", {"data": {"me": {"id": user_id, "username": "alice"}}})
    outcome, payload = await ws_operation(router, {"x-api-key": key}, ME)
    assert (outcome, payload) == ("next", {"data": {"me": {"id": user_id, "username": "alice"}}})


async def test_a_rotated_signing_key_is_fetched_on_first_sight(edge: Edge) -> None:
    router = edge.start_router(router_config(edge.users_url, str(edge.settings.redis_url)))
    user_id, token = await edge.sign_up("rotator")
    assert (await post(router, ME, headers={"authorization": f"Bearer {token}"})).status_code == 200
    kid = KeyRing(edge.settings.keys_dir).load().rotate()  # a kid the router has not seen

    async def published() -> bool:  # the users process re-reads its key directory
        jwks = await edge.http.get(f"{edge.users_url}/.well-known/jwks.json")
        return kid in {k["kid"] for k in jwks.json()["keys"]}

    await until(published)
    fresh = edge.token(user_id)
    response = await post(router, ME, headers={"authorization": f"Bearer {fresh}"})
    assert response.json() == {"data": {"me": {"id": user_id, "username": "rotator"}}}


async def test_a_revoked_key_stops_working_on_every_router_process(edge: Edge) -> None:
    config = router_config(edge.users_url, str(edge.settings.redis_url))
    one, two = edge.start_router(config), edge.start_router(config)
    _, token = await edge.sign_up("partner")
    key_id, key = await edge.api_key(one, token)
    for router in (one, two):  # both routers now hold the key in their cache (for 1 h)
        assert (await post(router, ME, headers={"x-api-key": key})).status_code == 200
    verifications = edge.users.graphql
    await post(one, REVOKE_KEY, {"id": key_id}, headers={"authorization": f"Bearer {token}"})

    async def refused(router: Router) -> bool:
        return (await post(router, ME, headers={"x-api-key": key})).status_code == 401

    # cache_ttl is 1 h: only the published revocation can end the key within a minute (a
    # generous bound: it takes milliseconds, but a loaded machine must not fail the test)
    took = [await until(lambda r=router: refused(r), timeout=60.0) for router in (one, two)]
    assert edge.users.graphql == verifications + 1  # only the revoke itself reached users
    print(f"revocation effective after {took[0] * 1000:.0f} ms / {took[1] * 1000:.0f} ms")
    outcome, detail = await ws_operation(two, {"x-api-key": key}, ME)
    assert (outcome, detail[0]) == ("closed", 4403)


async def test_without_redis_cached_keys_are_checked_again_every_second(edge: Edge) -> None:
    dead = "redis://127.0.0.1:1/0"  # nothing listens there: revocations cannot arrive
    router = edge.start_router(router_config(edge.users_url, dead))
    _, token = await edge.sign_up("offline")
    key_id, key = await edge.api_key(router, token)
    assert (await post(router, ME, headers={"x-api-key": key})).status_code == 200
    await post(router, REVOKE_KEY, {"id": key_id}, headers={"authorization": f"Bearer {token}"})

    async def refused() -> bool:
        return (await post(router, ME, headers={"x-api-key": key})).status_code == 401

    await until(refused, timeout=60.0)  # far within cache_ttl (1 h): checked again


async def direct(edge: Edge, headers: dict[str, str] | None = None) -> httpx.Response:
    return await edge.http.post(
        f"{edge.users_url}/graphql", json={"query": ME}, headers=headers or {}
    )


async def test_in_production_a_subgraph_refuses_requests_without_the_router_principal(
    edge_stack: EdgeFactory,
) -> None:
    async with edge_stack(environment="production") as edge:
        router = edge.start_router(router_config(edge.users_url, str(edge.settings.redis_url)))
        user_id, token = await edge.sign_up("direct")
        # straight to the subgraph, even with a good access token: refused
        for headers in (None, {"authorization": f"Bearer {token}"}):
            response = await direct(edge, headers)
            assert response.status_code == 401
            assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        # a principal signed with another secret, or a forged user: refused
        forged = PrincipalSigner("x" * 40).token_for(Principal("user", user_id, user_id))
        assert (await direct(edge, {"x-puppies-principal": forged})).status_code == 401
        # the internal key endpoint answers only the router
        verify = await edge.http.post(
            f"{edge.users_url}/internal/api-keys/verify", json={"key": "pk_x"}
        )
        assert verify.status_code == 403
        # a WebSocket straight to the subgraph: closed with 4403
        ws_url = edge.users_url.replace("http://", "ws://") + "/graphql"
        async with connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            await ws.send('{"type":"connection_init","payload":{}}')
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
        # through the router, the same token works
        through = await post(router, ME, headers={"authorization": f"Bearer {token}"})
        assert through.json() == {"data": {"me": {"id": user_id, "username": "direct"}}}
        _, key = await edge.api_key(router, token)
        by_key = await post(router, ME, headers={"x-api-key": key})
        assert by_key.json()["data"]["me"]["id"] == user_id


def _codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]
