"""`puppies serve users` as a real process: signUp, logIn, me, follow, followers over HTTP."""

from __future__ import annotations

import httpx

from puppies.embedded import free_port
from puppies.settings import Settings
from tests.subgraphs.users.conftest import LOG_IN, PASSWORD, SIGN_UP
from tests.support.graphql import GraphQLClient
from tests.support.servers import run_cli


async def test_round_trip_against_served_process(
    clean: Settings, service_env: dict[str, str]
) -> None:
    port = free_port()
    with run_cli(["serve", "users", "--port", str(port)], service_env, port=port):
        async with httpx.AsyncClient(timeout=30) as http:
            gql = GraphQLClient(http, f"http://127.0.0.1:{port}")
            assert (await http.get(f"http://127.0.0.1:{port}/health")).json() == {"status": "UP"}
            ids = {}
            for name in ("walker", "sitter"):
                body = await gql.data(
                    SIGN_UP, {"u": name, "e": f"{name}@example.com", "p": PASSWORD}
                )
                ids[name] = body["signUp"]["session"]["user"]["id"]
            login = await gql.data(LOG_IN, {"l": "walker@example.com", "p": PASSWORD})
            token = login["logIn"]["session"]["accessToken"]
            me = await gql.data("{ me { id username } }", token=token)
            assert me["me"] == {"id": ids["walker"], "username": "walker"}
            followed = await gql.data(
                "mutation($id: ID!) { follow(userId: $id) { changed user { followerCount } } }",
                {"id": ids["sitter"]},
                token=token,
            )
            assert followed["follow"] == {"changed": True, "user": {"followerCount": 1}}
            followers = await gql.data(
                "query($id: ID!) { user(id: $id) { followers(first: 10) { "
                "edges { node { username viewerFollows } } } } }",
                {"id": ids["sitter"]},
                token=token,
            )
            assert followers["user"]["followers"]["edges"] == [
                {"node": {"username": "walker", "viewerFollows": False}}
            ]
            sdl = await gql.data("{ _service { sdl } }")
            assert 'type User @key(fields: "id")' in sdl["_service"]["sdl"]
