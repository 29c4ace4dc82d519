"""Issue 9, bug 1: text input that the storage cannot hold or a person cannot read (NUL,
unpaired surrogates, control characters, over-long values) is BAD_USER_INPUT naming the
field, through the router, and changes nothing. trackEvents rejects the event, not the
batch."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.client import PASSWORD, Account, Api

# What reaches the subgraphs through the router. (A lone surrogate never does: the router
# refuses such a body as invalid JSON, see the last tests.)
BAD = {
    "NUL": ("wo\u0000of", "NUL character (U+0000)"),
    "control": ("wo\u0007of", "control character U+0007"),
    "DEL": ("wo\u007fof", "control character U+007F"),
}
MY_POSTS = "query($id: ID!) { user(id: $id) { posts(first: 10) { edges { node { id } } } } }"


def _bad_input(body: dict[str, Any], field: str, what: str) -> None:
    assert body.get("errors"), body
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", body
    assert f"`{field}`" in error["message"] and what in error["message"], error
    assert "Traceback" not in str(body) and "psycopg" not in str(body)


async def _posts_of(api: Api, who: Account) -> list[str]:
    body = await api.data(MY_POSTS, {"id": who.id})
    return [e["node"]["id"] for e in body["user"]["posts"]["edges"]]


@pytest.mark.parametrize("kind", sorted(BAD))
async def test_bad_text_in_a_post_or_a_comment_is_refused_and_writes_nothing(
    api: Api, kind: str
) -> None:
    value, what = BAD[kind]
    rex = await api.account("rex")
    body = await api.gql(
        "mutation($t: String!) { createPost(input: {text: $t}) { post { id } errors { code } } }",
        {"t": value},
        token=rex.token,
    )
    _bad_input(body, "text", what)
    assert await _posts_of(api, rex) == []

    post_id, _ = await api.create_post(rex, "fine")
    body = await api.gql(
        "mutation($p: ID!, $t: String!) { addComment(input: {postId: $p, text: $t}) "
        "{ comment { id } errors { code } } }",
        {"p": post_id, "t": value},
        token=rex.token,
    )
    _bad_input(body, "text", what)
    comments = await api.data("query($id: ID!) { post(id: $id) { commentCount } }", {"id": post_id})
    assert comments["post"]["commentCount"] == 0


@pytest.mark.parametrize("kind", sorted(BAD))
async def test_bad_text_in_account_fields_is_refused(api: Api, kind: str) -> None:
    value, what = BAD[kind]
    rex = await api.account("rex")
    for field in ("displayName", "bio"):
        body = await api.gql(
            f"mutation($v: String!) {{ updateProfile(input: {{{field}: $v}}) {{ id }} }}",
            {"v": value},
            token=rex.token,
        )
        _bad_input(body, field, what)
    me = await api.data("{ me { displayName bio } }", token=rex.token)
    assert me["me"] == {"displayName": rex.username, "bio": ""}

    body = await api.gql(
        'mutation($n: String!) { createApiKey(input: {name: $n, scopes: ["read:posts"]}) '
        "{ key errors { code } } }",
        {"n": value},
        token=rex.token,
    )
    _bad_input(body, "name", what)
    keys = await api.data("{ apiKeys { id } }", token=rex.token)
    assert keys["apiKeys"] == []

    body = await api.gql(
        "mutation($l: String!, $p: String!) { logIn(input: {login: $l, password: $p}) "
        "{ session { accessToken } errors { code } } }",
        {"l": value, "p": PASSWORD},
    )
    _bad_input(body, "login", what)
    body = await api.gql("query($u: String!) { userByUsername(username: $u) { id } }", {"u": value})
    _bad_input(body, "username", what)


async def test_over_long_text_is_refused_with_the_limit(api: Api) -> None:
    body = await api.gql(
        "query($u: String!) { userByUsername(username: $u) { id } }", {"u": "x" * 10_001}
    )
    _bad_input(body, "username", "is 10001 characters long; the limit is 10000")


async def test_track_events_rejects_the_bad_event_and_keeps_the_others(api: Api) -> None:
    rex = await api.account("rex")
    now = datetime.now(UTC).isoformat()
    events = [
        {"id": "ok-1", "type": "APP_OPEN", "occurredAt": now},
        {"id": "bad\u0000id", "type": "APP_OPEN", "occurredAt": now},
        {"id": "bad\u001bid", "type": "APP_OPEN", "occurredAt": now},
        {"id": "ok-2", "type": "APP_OPEN", "occurredAt": now},
    ]
    body = await api.data(
        "mutation($e: [EventInput!]!) { trackEvents(events: $e) "
        "{ accepted rejected rejections { index id reason message } } }",
        {"e": events},
        token=rex.token,
    )
    result = body["trackEvents"]
    assert (result["accepted"], result["rejected"]) == (2, 2), result
    first, second = result["rejections"]
    assert (first["index"], first["reason"]) == (1, "INVALID_ID")
    assert "NUL character" in first["message"] and first["id"] == "bad\\u0000id"
    assert (second["index"], second["reason"]) == (2, "INVALID_ID")
    assert "U+001B" in second["message"] and second["id"] == "bad\\u001bid"


async def test_the_router_refuses_a_lone_surrogate_as_invalid_json(api: Api) -> None:
    rex = await api.account("rex")
    body = await api.gql(
        "mutation($t: String!) { createPost(input: {text: $t}) { post { id } } }",
        {"t": "wo\ud800of"},
        token=rex.token,
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST", body
    assert "surrogate" in body["errors"][0]["message"]
    assert await _posts_of(api, rex) == []


async def test_a_subgraph_called_directly_refuses_a_lone_surrogate_too(api: Api) -> None:
    """Behind another gateway, or called directly: the subgraph's own check."""
    rex = await api.account("rex")
    posts = api.stack.subgraph_url("posts")
    payload = {
        "query": "mutation($t: String!) { createPost(input: {text: $t}) { post { id } } }",
        "variables": {"t": "wo\ud800of"},
    }
    r = await api.http.post(
        posts,
        content=json.dumps(payload).encode(),
        headers={"content-type": "application/json", "authorization": f"Bearer {rex.token}"},
    )
    _bad_input(r.json(), "text", "unpaired UTF-16 surrogate (U+D800)")
    now = datetime.now(UTC).isoformat()
    payload = {
        "query": "mutation($e: [EventInput!]!) { trackEvents(events: $e) "
        "{ accepted rejections { index reason id } } }",
        "variables": {
            "e": [
                {"id": "fine", "type": "APP_OPEN", "occurredAt": now},
                {"id": "bad\udc00", "type": "APP_OPEN", "occurredAt": now},
            ]
        },
    }
    r = await api.http.post(
        api.stack.subgraph_url("analytics"),
        content=json.dumps(payload).encode(),
        headers={"content-type": "application/json"},
    )
    result = r.json()["data"]["trackEvents"]
    assert result == {
        "accepted": 1,
        "rejections": [{"index": 1, "reason": "INVALID_ID", "id": "bad\\udc00"}],
    }
