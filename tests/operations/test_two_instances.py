"""More than one instance: two routers (one of them `--workers 2`) and two posts subgraph
processes (with one users subgraph) against one PostgreSQL and Redis, clients alternating
between the routers.

A like made through one router reaches subscribers connected to the other; a persisted
query (APQ) registered through one router runs through the other (and through each process
of the `--workers 2` one: the store is in Redis); counts and results are exact whichever
instance answers; the metrics of the `--workers 2` router add up over its processes.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import httpx

from puppies.embedded import free_port
from puppies.settings import Settings
from tests.subgraphs.posts.wsclient import GraphQLWebSocket
from tests.subgraphs.users.conftest import PASSWORD, SIGN_UP
from tests.support.polling import eventually
from tests.support.processes import ProcessStack, router_yaml
from tests.support.telemetry import metric
from tests.support.tmp import private_tmp_dir

NEW = "mutation($t: String!) { createPost(input: {text: $t}) { post { id } errors { code } } }"
LIKE = "mutation($id: ID!) { likePost(postId: $id) { post { id } errors { code } } }"
POST = "query($id: ID!) { post(id: $id) { likeCount viewerHasLiked } }"
SUB = """subscription($id: ID!) { postLikeChanged(postId: $id) {
  liked userId likeCount post { id likeCount } } }"""
# Enough likes to see every one in order, through both routers, with the exact count after
# each (more would prove nothing more, at a few seconds a sign-up on a loaded machine).
LIKERS = 4


async def _data(http: httpx.AsyncClient, url: str, query: str, variables: Any, token: str) -> Any:
    r = await http.post(
        url + "/graphql",
        json={"query": query, "variables": variables},
        headers={"authorization": f"Bearer {token}"},
    )
    body = r.json()
    assert "errors" not in body, body
    return body["data"]


async def _token(http: httpx.AsyncClient, router: str, name: str) -> str:
    r = await http.post(
        router + "/graphql",
        json={
            "query": SIGN_UP,
            "variables": {"u": name, "e": f"{name}@example.com", "p": PASSWORD},
        },
    )
    token: str = r.json()["data"]["signUp"]["session"]["accessToken"]
    return token


async def test_two_routers_and_two_posts_processes_answer_as_one(
    clean: Settings, service_env: dict[str, str]
) -> None:
    with ProcessStack(service_env, private_tmp_dir("two")) as stack:
        # only the subgraphs these operations reach (users, posts), all started side by side
        first_posts = stack.start_subgraph("posts", wait=False)
        second_posts = stack.start_subgraph("posts", port=free_port(), wait=False)
        ports_b = {**stack.ports, "posts": second_posts.port}
        redis_url = service_env["REDIS_URL"]
        processes = [
            stack.start_subgraph("users", wait=False),
            first_posts,
            second_posts,
            stack.start_router(workers=2, wait=False),  # a -> posts #1
            stack.start_router(config=router_yaml(ports_b, redis_url=redis_url), wait=False),
        ]
        for process in processes:
            stack.wait_ready(process)
        a, b = (process.url for process in processes[-2:])  # b -> posts #2
        routers = [a, b]
        async with httpx.AsyncClient(timeout=60) as http:
            author = await _token(http, a, "author")
            created = await _data(http, b, NEW, {"t": "two of everything"}, author)
            pid = created["createPost"]["post"]["id"]
            likers = [await _token(http, routers[i % 2], f"liker{i}") for i in range(LIKERS)]

            async with GraphQLWebSocket(a) as on_a, GraphQLWebSocket(b) as on_b:
                await on_a.subscribe(SUB, {"id": pid})
                await on_b.subscribe(SUB, {"id": pid})
                # both posts processes have the subscription running (their own metric)
                for posts in (first_posts, second_posts):

                    def running(url: str = posts.url) -> bool:
                        return metric(url, "puppies_active_subscriptions") >= 1

                    await eventually(running)
                seen: dict[str, list[tuple[str, int]]] = {"a": [], "b": []}
                for i, token in enumerate(likers):
                    # alternate: even likes through router a (posts #1), odd through b (#2)
                    await _data(http, routers[i % 2], LIKE, {"id": pid}, token)
                    for name, ws in (("a", on_a), ("b", on_b)):
                        event = (await asyncio.wait_for(ws.next_payload(), 60))["data"]
                        change = event["postLikeChanged"]
                        assert change["liked"] is True
                        seen[name].append((change["userId"], change["likeCount"]))
            # every subscriber saw every like, in order, with the exact count after each
            assert seen["a"] == seen["b"]
            assert [count for _, count in seen["a"]] == list(range(1, LIKERS + 1))
            assert len({user for user, _ in seen["a"]}) == LIKERS
            for i, token in enumerate(likers):
                for router in routers:
                    post = (await _data(http, router, POST, {"id": pid}, token))["post"]
                    assert post == {"likeCount": LIKERS, "viewerHasLiked": True}, (i, router)
            anyone = (await _data(http, a, POST, {"id": pid}, author))["post"]
            assert anyone == {"likeCount": LIKERS, "viewerHasLiked": False}

            # APQ: unknown everywhere first; registered through b; then found through a
            digest = hashlib.sha256(POST.encode()).hexdigest()
            persisted = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
            by_hash = {"variables": {"id": pid}, "extensions": persisted}
            for router in routers:
                miss = (await http.post(router + "/graphql", json=by_hash)).json()
                assert miss["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
            registered = await http.post(b + "/graphql", json={**by_hash, "query": POST})
            assert registered.json()["data"]["post"]["likeCount"] == LIKERS
            for _ in range(6):  # new connections: each process of router a answers some
                async with httpx.AsyncClient(timeout=30) as one:
                    hit = (await one.post(a + "/graphql", json=by_hash)).json()
                assert hit == {"data": {"post": {"likeCount": LIKERS, "viewerHasLiked": False}}}
        assert metric(a, "router_cache_requests_total", cache="apq", outcome="hit") == 6
        # the --workers 2 router adds up its processes' metrics: every like through a counted
        likes_through_a = (LIKERS + 1) // 2
        # signUp of the author and of half the likers, and half the likes
        assert metric(a, "router_operations_total", type="mutation") == 1 + 2 * likes_through_a
