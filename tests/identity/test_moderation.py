"""Moderation through the router: users report posts; moderators read the queue, remove a
post or dismiss its reports. The router enforces @authenticated and @policy(moderator)
from the token's roles; the resolvers check the role again in the database."""

from __future__ import annotations

from typing import Any

from tests.identity.conftest import LOG_IN, IdentityApi
from tests.identity.test_roles import cli_set_role
from tests.support.client import PASSWORD, Account
from tests.support.stack import RunningStack

REPORT = """mutation($p: ID!, $r: ReportReason!, $d: String) {
  reportPost(input: {postId: $p, reason: $r, details: $d}) {
    report { id reason details } created errors { code field message } } }"""
QUEUE = """query($first: Int, $after: String) { moderationQueue(first: $first, after: $after) {
  edges { cursor node { post { id text } reportCount reasons reports { reason details } } }
  pageInfo { hasNextPage endCursor } } }"""
REMOVE = """mutation($p: ID!, $why: String!) { removePost(input: {postId: $p, reason: $why}) {
  action { action reason reports postId } errors { code field message } } }"""
DISMISS = """mutation($p: ID!, $why: String!) { dismissReports(input: {postId: $p, reason: $why}) {
  action { action reports } errors { code field message } } }"""
POST = "query($id: ID!) { post(id: $id) { id } }"


def _code(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["code"])


async def _moderator(api: IdentityApi, running: RunningStack) -> tuple[Account, str]:
    mod = await api.account("mod")
    assert cli_set_role(running, mod.username, "moderator").returncode == 0
    body = await api.data(LOG_IN, {"l": mod.username, "p": PASSWORD})
    return mod, body["logIn"]["session"]["accessToken"]


async def _queue(api: IdentityApi, token: str) -> dict[str, dict[str, Any]]:
    """Every reported post in the queue, by post id (all pages)."""
    found: dict[str, dict[str, Any]] = {}
    after = None
    while True:
        page = (await api.data(QUEUE, {"first": 2, "after": after}, token=token))["moderationQueue"]
        for edge in page["edges"]:
            found[edge["node"]["post"]["id"]] = edge["node"]
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


async def test_reports_and_their_bad_paths(api: IdentityApi) -> None:
    author, reporter = await api.account("author"), await api.account("reporter")
    post = await api.new_post(author, "questionable")
    made = await api.data(REPORT, {"p": post, "r": "SPAM", "d": "buy now"}, token=reporter.token)
    assert made["reportPost"]["created"] is True
    assert made["reportPost"]["report"]["reason"] == "SPAM"
    again = (await api.data(REPORT, {"p": post, "r": "HATE"}, token=reporter.token))["reportPost"]
    assert again["created"] is False and again["report"]["reason"] == "SPAM"
    own = (await api.data(REPORT, {"p": post, "r": "SPAM"}, token=author.token))["reportPost"]
    assert [e["code"] for e in own["errors"]] == ["BAD_USER_INPUT"]
    missing = await api.data(REPORT, {"p": "123", "r": "SPAM"}, token=reporter.token)
    assert [e["code"] for e in missing["reportPost"]["errors"]] == ["NOT_FOUND"]
    long = await api.data(REPORT, {"p": post, "r": "OTHER", "d": "x" * 1001}, token=author.token)
    assert long["reportPost"]["errors"][0]["code"] == "BAD_USER_INPUT"
    bad = await api.gql(REPORT, {"p": post, "r": "BORING"}, token=reporter.token)
    assert _code(bad) in ("BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED")
    anonymous = await api.gql(REPORT, {"p": post, "r": "SPAM"})
    assert anonymous["data"] == {"reportPost": None}
    assert _code(anonymous) == "UNAUTHORIZED_FIELD_OR_TYPE"


async def test_moderators_work_the_queue_and_others_cannot(
    api: IdentityApi, running: RunningStack
) -> None:
    author = await api.account("author")
    reporters = [await api.account("rep") for _ in range(2)]
    bad_post = await api.new_post(author, "bad")
    fine_post = await api.new_post(author, "fine")
    for reporter, reason in zip(reporters, ("SPAM", "HATE"), strict=True):
        await api.data(
            REPORT, {"p": bad_post, "r": reason, "d": reason.lower()}, token=reporter.token
        )
    await api.data(REPORT, {"p": fine_post, "r": "OTHER"}, token=reporters[0].token)

    # not a moderator: the router refuses, and so does the subgraph reached directly
    user = await api.account("user")
    body = await api.gql(QUEUE, {"first": 5}, token=user.token)
    assert body["data"] == {"moderationQueue": None}
    assert _code(body) == "UNAUTHORIZED_FIELD_OR_TYPE"
    direct = await api.http.post(
        running.subgraph_url("posts"),
        json={"query": QUEUE, "variables": {"first": 5}},
        headers={"authorization": f"Bearer {user.token}"},
    )
    assert _code(direct.json()) == "FORBIDDEN"
    body = await api.gql(REMOVE, {"p": bad_post, "why": "no"}, token=user.token)
    assert _code(body) == "UNAUTHORIZED_FIELD_OR_TYPE"
    assert (await api.data(POST, {"id": bad_post}))["post"]

    mod, token = await _moderator(api, running)
    queue = await _queue(api, token)
    assert queue[bad_post]["reportCount"] == 2
    assert queue[bad_post]["reasons"] == ["HATE", "SPAM"]
    assert {r["details"] for r in queue[bad_post]["reports"]} == {"spam", "hate"}
    assert queue[fine_post]["reportCount"] == 1
    order = list(queue)
    assert order.index(bad_post) < order.index(fine_post)  # the longest waiting first

    no_reason = (await api.data(REMOVE, {"p": bad_post, "why": "  "}, token=token))["removePost"]
    assert [e["code"] for e in no_reason["errors"]] == ["BAD_USER_INPUT"]
    kept = await api.data(DISMISS, {"p": fine_post, "why": "it is fine"}, token=token)
    assert kept["dismissReports"]["action"] == {"action": "DISMISSED", "reports": 1}
    removed = await api.data(REMOVE, {"p": bad_post, "why": "spam and hate"}, token=token)
    assert removed["removePost"]["action"] == {
        "action": "REMOVED",
        "reason": "spam and hate",
        "reports": 2,
        "postId": bad_post,
    }
    assert (await api.data(POST, {"id": bad_post}))["post"] is None
    queue = await _queue(api, token)
    assert bad_post not in queue and fine_post not in queue
    gone = (await api.data(REMOVE, {"p": bad_post, "why": "again"}, token=token))["removePost"]
    assert [e["code"] for e in gone["errors"]] == ["NOT_FOUND"]

    # demoted: the token still says moderator, the resolver reads the database
    assert cli_set_role(running, mod.username, "user").returncode == 0
    body = await api.gql(QUEUE, {"first": 5}, token=token)
    assert _code(body) == "FORBIDDEN"
