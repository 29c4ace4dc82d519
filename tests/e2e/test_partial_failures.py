"""Issue 9, bug 3: one failing field never blanks the whole object. Fields served by
another subgraph and fields that can be forbidden are nullable, so their error stays at
their own path, through the router."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import pytest

from puppies.embedded import free_port
from tests.e2e.conftest import ROOT
from tests.support.client import Api
from tests.support.servers import run_cli, wait_listening
from tests.support.stack import RunningStack

REFUSED = ("UNAUTHORIZED_FIELD_OR_TYPE", "UNAUTHENTICATED")
POST_WITH_STATS = """query($id: ID!) {
  post(id: $id) { id text author { username } stats { views } } }"""


def _error_at(body: dict, path: Sequence[object]) -> dict:
    _all_coded(body)
    errors = [e for e in body.get("errors", []) if e.get("path") == list(path)]
    assert errors, body
    return errors[0]


def _all_coded(body: dict) -> None:
    """Issue 9, bug 4: every error of the answer has a code."""
    assert body.get("errors"), body
    assert all((e.get("extensions") or {}).get("code") for e in body["errors"]), body


async def test_stats_forbidden_to_a_stranger_leaves_the_post(api: Api) -> None:
    rex, stranger = await api.account("rex"), await api.account("stranger")
    post_id, _ = await api.create_post(rex, "my walk")
    body = await api.gql(POST_WITH_STATS, {"id": post_id}, token=stranger.token)
    assert body["data"]["post"] == {
        "id": post_id,
        "text": "my walk",
        "author": {"username": rex.username},
        "stats": None,
    }, body
    assert _error_at(body, ["post", "stats"])["extensions"]["code"] == "FORBIDDEN"
    # The author reads them.
    mine = await api.data(POST_WITH_STATS, {"id": post_id}, token=rex.token)
    assert mine["post"]["stats"] == {"views": 0}


async def test_a_forbidden_root_field_leaves_the_others(api: Api) -> None:
    body = await api.gql("{ me { id } apiKeys { id } feed { edges { cursor } } }")
    assert body["data"] == {"me": None, "apiKeys": None, "feed": None}, body
    # refused by the router's authorization stage (@policy, @authenticated) or the subgraph
    for path in (["apiKeys"], ["feed"]):
        assert _error_at(body, path)["extensions"]["code"] in REFUSED, body


async def test_a_refused_mutation_is_null_with_its_error(api: Api) -> None:
    body = await api.gql('mutation { createPost(input: {text: "hi"}) { post { id } } }')
    assert body["data"] == {"createPost": None}, body
    assert _error_at(body, ["createPost"])["extensions"]["code"] in REFUSED, body


@contextlib.contextmanager
def _router_without(running: RunningStack, port_variable: str) -> Iterator[str]:
    """A second router of the same stack for which one subgraph is down (nothing listens
    where router.yaml sends it)."""
    port = free_port()
    env = {**running.env, "ROUTER_PORT": str(port), port_variable: str(free_port())}
    args = ["serve", "router", "--supergraph", str(ROOT / "supergraph.graphql")]
    with run_cli([*args, "--config", str(ROOT / "router.yaml")], env) as proc:
        wait_listening(port, proc, 120)
        yield f"http://127.0.0.1:{port}/graphql"


@pytest.fixture
def router_without_analytics(running: RunningStack) -> Iterator[str]:
    with _router_without(running, "ANALYTICS_PORT") as url:
        yield url


@pytest.fixture
def router_without_users(running: RunningStack) -> Iterator[str]:
    with _router_without(running, "USERS_PORT") as url:
        yield url


async def test_a_subgraph_that_is_down_blanks_only_its_fields(
    api: Api, router_without_analytics: str
) -> None:
    rex = await api.account("rex")
    post_id, _ = await api.create_post(rex, "still here")
    r = await api.http.post(
        router_without_analytics,
        json={"query": POST_WITH_STATS, "variables": {"id": post_id}},
        headers={"authorization": f"Bearer {rex.token}"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data"]["post"] == {
        "id": post_id,
        "text": "still here",
        "author": {"username": rex.username},
        "stats": None,
    }, body
    # the router reports the failed fetch at the entity it was for, with its code
    _all_coded(body)
    [error] = body["errors"]
    assert error["path"][0] == "post" and error["extensions"]["code"] == "SUBREQUEST_HTTP_ERROR"
    # and the analytics user field next to users' own fields
    r = await api.http.post(
        router_without_analytics,
        json={
            "query": "query($id: ID!) { user(id: $id) { username analytics { postViews } } }",
            "variables": {"id": rex.id},
        },
        headers={"authorization": f"Bearer {rex.token}"},
    )
    body = r.json()
    assert body["data"]["user"] == {"username": rex.username, "analytics": None}, body
    _all_coded(body)


async def test_users_down_leaves_the_post_and_every_error_has_a_code(
    api: Api, router_without_users: str
) -> None:
    """A field of another subgraph's entity that is non-null (User.username) cannot be
    resolved: the nullable `author` becomes null, the post keeps its own fields."""
    rex = await api.account("rex")
    post_id, _ = await api.create_post(rex, "no users today")
    query = """query($id: ID!) { post(id: $id) { id text
      author { id username } } }"""
    # anonymous: a token could not be checked without the users subgraph's keys
    r = await api.http.post(
        router_without_users, json={"query": query, "variables": {"id": post_id}}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data"]["post"] == {"id": post_id, "text": "no users today", "author": None}, body
    _all_coded(body)
    assert {e["path"][0] for e in body["errors"]} == {"post"}, body
