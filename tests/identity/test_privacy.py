"""GDPR through the router: a data export of everything a user has in every domain, and an
account deletion after which no row and no object of the user remains anywhere, while
other users' counters are corrected. Real router, subgraphs, worker, PostgreSQL, Redis and
S3; the checks read the database and the bucket directly."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from puppies.s3 import create_s3_client
from puppies.settings import Settings
from resolvers.privacy import load
from resolvers.privacy.registry import Erase
from resolvers.privacy.tables import count_naming
from resolvers.runtime import Resources
from tests.identity.conftest import LOG_IN, IdentityApi, new_subject, photo
from tests.identity.test_roles import cli_set_role
from tests.support.client import PASSWORD, Account
from tests.support.polling import eventually
from tests.support.privacy import bucket_keys, connect, prefix_of, rows_naming

REQUEST_EXPORT = """mutation { requestDataExport {
  export { id status } errors { code message } } }"""
EXPORT = """query($id: ID) { dataExport(id: $id) {
  id status byteSize url urlExpiresAt expiresAt error } }"""
DELETE = """mutation($input: DeleteAccountInput!) { deleteAccount(input: $input) {
  deletionRequestedAt errors { code field message } } }"""
FOLLOW = "mutation($id: ID!) { follow(userId: $id) { changed } }"
LIKE = "mutation($id: ID!) { likePost(postId: $id) { post { id } } }"
COMMENT = """mutation($p: ID!, $t: String!, $r: ID) {
  addComment(input: {postId: $p, text: $t, replyTo: $r}) { comment { id } errors { code } } }"""
API_KEY = """mutation { createApiKey(input: {name: "partner", scopes: ["read:posts"]}) {
  apiKey { id } key } }"""
PROFILE = """mutation($b: String!) { updateProfile(input: {bio: $b}) { id } }"""
TRACK = """mutation($e: [EventInput!]!) { trackEvents(events: $e) { accepted rejected } }"""
USER = """query($id: ID!) { user(id: $id) { id followerCount followingCount } }"""
POST = """query($id: ID!) { post(id: $id) { id likeCount commentCount
  comments(first: 10) { edges { node { id replyCount } } } } }"""
UNREAD = "{ notifications(first: 1) { unreadCount } }"
BLOCK = "mutation($id: ID!) { blockUser(userId: $id) { changed } }"
MUTE = "mutation($id: ID!) { muteUser(userId: $id) { changed } }"
RESET = """mutation($e: String!) { requestPasswordReset(email: $e) { errors { code } } }"""
ME = "{ me { id } }"
CREATE_POST_WITH_FILE = """mutation($m: [MediaInput!]!) {
  createPost(input: {text: "a file never completed", media: $m}) {
    uploads { url fields { name value } } errors { code } } }"""
PHOTO = photo(64, 48)
REPORT = """mutation($p: ID!) { reportPost(input: {postId: $p, reason: SPAM}) { created } }"""
DISMISS = """mutation($p: ID!) { dismissReports(input: {postId: $p, reason: "fine"}) {
  action { id } errors { code } } }"""


@dataclass
class Footprint:
    a: Account
    b: Account
    a_posts: list[str]
    b_post: str
    a_key: str
    moderation_id: str  # a moderator's decision on A's post
    b_thread: str  # B's comment on B's post, with replies by A and D


async def footprint(api: IdentityApi) -> Footprint:
    """A (to export or delete) and B (who stays): A has something in every domain, and
    B has something that involves A."""
    a = await api.account("gdpr_a")
    b = await api.account("gdpr_b")
    await api.data(PROFILE, {"b": "A bio that is personal data"}, token=a.token)
    a_posts = [
        await api.post_ready(a, "A's photo post", [("image/jpeg", photo())]),
        await api.new_post(a, "A's text post"),
    ]
    b_post = await api.post_ready(b, "B's post", [("image/jpeg", photo(320, 240))])
    for who, target in ((a, b), (b, a)):
        assert (await api.data(FOLLOW, {"id": target.id}, token=who.token))["follow"]
    await api.data(LIKE, {"id": b_post}, token=a.token)
    await api.data(LIKE, {"id": a_posts[0]}, token=a.token)
    await api.data(LIKE, {"id": a_posts[0]}, token=b.token)
    for who, post in ((a, b_post), (a, a_posts[0]), (b, a_posts[0])):
        body = await api.data(
            COMMENT, {"p": post, "t": f"{who.username} was here"}, token=who.token
        )
        assert body["addComment"]["errors"] == []
    key = (await api.data(API_KEY, token=a.token))["createApiKey"]["key"]
    b_thread = await _threads(api, a, b, a_posts[0], b_post)
    await _relations(api, a)
    now = datetime.now(UTC).isoformat()
    events = [
        {"id": str(uuid.uuid4()), "type": "POST_VIEW", "occurredAt": now, "postId": b_post},
        {"id": str(uuid.uuid4()), "type": "PROFILE_VIEW", "occurredAt": now, "userId": b.id},
        {"id": str(uuid.uuid4()), "type": "APP_OPEN", "occurredAt": now},
    ]
    tracked = await api.data(TRACK, {"e": events}, token=a.token)
    assert tracked["trackEvents"]["accepted"] == 3
    b_views = [{"id": str(uuid.uuid4()), "type": "PROFILE_VIEW", "occurredAt": now, "userId": a.id}]
    await api.data(TRACK, {"e": b_views}, token=b.token)
    # A reports B's post; B reports A's text post and a moderator keeps it (logged)
    assert (await api.data(REPORT, {"p": b_post}, token=a.token))["reportPost"]["created"]
    assert (await api.data(REPORT, {"p": a_posts[1]}, token=b.token))["reportPost"]["created"]
    mod = await api.account("gdpr_mod")
    assert cli_set_role(api.stack, mod.username, "moderator").returncode == 0
    mod_token = (await api.data(LOG_IN, {"l": mod.username, "p": PASSWORD}))["logIn"]
    kept = await api.data(DISMISS, {"p": a_posts[1]}, token=mod_token["session"]["accessToken"])
    assert kept["dismissReports"]["errors"] == [], kept
    # A moderates too: A's decision on B's post (A's role is in A's next token)
    assert cli_set_role(api.stack, a.username, "moderator").returncode == 0
    a_mod = (await api.data(LOG_IN, {"l": a.username, "p": PASSWORD}))["logIn"]
    decided = await api.data(DISMISS, {"p": b_post}, token=a_mod["session"]["accessToken"])
    assert decided["dismissReports"]["errors"] == [], decided
    return Footprint(a, b, a_posts, b_post, key, kept["dismissReports"]["action"]["id"], b_thread)


async def _comment(
    api: IdentityApi, who: Account, post: str, text: str, reply_to: str | None = None
) -> str:
    body = await api.data(COMMENT, {"p": post, "t": text, "r": reply_to}, token=who.token)
    assert body["addComment"]["errors"] == [], body
    return str(body["addComment"]["comment"]["id"])


async def _threads(api: IdentityApi, a: Account, b: Account, a_post: str, b_post: str) -> str:
    """Replies both ways: A replies in B's thread (B's `replyCount` counts it), B replies
    to A's comment (the reply goes with A's comment), D replies to B on A's post (B is
    notified about A's post by someone else). Returns B's thread."""
    d = await api.account("gdpr_d")
    thread = await _comment(api, b, b_post, "B's thread")
    await _comment(api, a, b_post, "A's reply in B's thread", thread)
    await _comment(api, d, b_post, "D's reply in B's thread", thread)
    a_comment = await _comment(api, a, b_post, "A's second comment")
    await _comment(api, b, b_post, "B's reply to A", a_comment)
    b_on_a = await _comment(api, b, a_post, "B on A's post")
    await _comment(api, d, a_post, "D's reply to B on A's post", b_on_a)
    return thread


async def _relations(api: IdentityApi, a: Account) -> None:
    """Blocks and mutes both ways (with C, who does nothing else: a block hides A's posts
    from C), and a password reset link of A's."""
    c = await api.account("gdpr_c")
    for who, other in ((a, c), (c, a)):
        assert (await api.data(BLOCK, {"id": other.id}, token=who.token))["blockUser"]["changed"]
        assert (await api.data(MUTE, {"id": other.id}, token=who.token))["muteUser"]["changed"]
    reset = await api.data(RESET, {"e": a.email})
    assert reset["requestPasswordReset"]["errors"] == [], reset


async def _wait_ready(api: IdentityApi, who: Account, export_id: str) -> dict[str, Any]:
    async def ready() -> dict[str, Any] | None:
        got = (await api.data(EXPORT, {"id": export_id}, token=who.token))["dataExport"]
        assert got["status"] != "FAILED", got
        return got if got["status"] == "READY" else None

    return await eventually(ready, timeout=120)


async def test_a_data_export_holds_everything_of_the_user_and_nothing_secret(
    api: IdentityApi, settings: Settings
) -> None:
    f = await footprint(api)
    made = (await api.data(REQUEST_EXPORT, token=f.a.token))["requestDataExport"]
    assert made["errors"] == [] and made["export"]["status"] == "PENDING", made
    # one at a time
    again = (await api.data(REQUEST_EXPORT, token=f.a.token))["requestDataExport"]
    assert [e["code"] for e in again["errors"]] in (["EXPORT_IN_PROGRESS"], [])
    export = await _wait_ready(api, f.a, made["export"]["id"])
    assert export["url"] and export["byteSize"] > 0
    assert export["urlExpiresAt"] <= export["expiresAt"]
    latest = (await api.data(EXPORT, {"id": None}, token=f.a.token))["dataExport"]
    assert latest["id"] in (export["id"], again["export"]["id"] if again["export"] else None)

    archive = await api.http.get(export["url"])
    assert archive.status_code == 200
    assert len(archive.content) == export["byteSize"]
    zf = zipfile.ZipFile(io.BytesIO(archive.content))
    names = set(zf.namelist())
    manifest = json.loads(zf.read("manifest.json"))
    assert manifest["user_id"] == int(f.a.id)
    assert "README.txt" in names

    def rows(table: str) -> list[dict[str, Any]]:
        schema, name = table.split(".")
        lines = zf.read(f"{schema}/{name}.jsonl").decode().splitlines()
        assert manifest["tables"][table] == len(lines)
        return [json.loads(line) for line in lines]

    (me,) = rows("users.users")
    assert me["id"] == int(f.a.id) and me["bio"] == "A bio that is personal data"
    assert "password_hash" not in me
    assert {(r["follower_id"], r["followee_id"]) for r in rows("users.follows")} == {
        (int(f.a.id), int(f.b.id)),
        (int(f.b.id), int(f.a.id)),
    }
    (key,) = rows("users.api_keys")
    assert key["name"] == "partner" and "secret_hash" not in key
    assert key["prefix"] in f.a_key
    sessions = rows("users.refresh_tokens")
    assert sessions and all("token_hash" not in s for s in sessions)
    assert {r["id"] for r in rows("posts.posts")} == {int(p) for p in f.a_posts}
    assert {r["post_id"] for r in rows("posts.likes")} == {int(f.b_post), int(f.a_posts[0])}
    assert {r["post_id"] for r in rows("posts.comments")} == {int(f.b_post), int(f.a_posts[0])}
    assert all(r["author_id"] == int(f.a.id) for r in rows("posts.comments"))
    assert [r["post_id"] for r in rows("posts.reports")] == [int(f.b_post)]
    decisions = rows("posts.moderation_actions")  # about A's posts, and A's as moderator
    (about,) = [d for d in decisions if d["author_id"] == int(f.a.id)]
    assert about["action"] == "DISMISSED" and str(about["id"]) == f.moderation_id
    (mine,) = [d for d in decisions if d["moderator_id"] == int(f.a.id)]
    assert mine["author_id"] == int(f.b.id) and mine["action"] == "DISMISSED"
    events = rows("analytics.events")
    assert {e["type"] for e in events} >= {"post_view", "profile_view", "app_open"} or {
        e["type"] for e in events
    } >= {"POST_VIEW", "PROFILE_VIEW", "APP_OPEN"}
    assert all(e["actor_id"] == int(f.a.id) for e in events)
    # the photo, as stored (a JPEG), and nothing of B's
    photos = [n for n in names if n.startswith("files/media/")]
    assert len(photos) == 1 and photos[0].endswith(".jpg"), photos
    assert zf.read(photos[0])[:3] == b"\xff\xd8\xff"
    assert manifest["files"]["media/"] == 1
    text = b"".join(zf.read(n) for n in names if n.endswith(".jsonl")).decode()
    assert f.b.username not in text.replace(f"{f.b.username} was here", "")

    # the link is presigned and expires; someone else cannot see the export
    assert "X-Amz-Expires" in export["url"] or "Expires" in export["url"]
    other = await api.gql(EXPORT, {"id": export["id"]}, token=f.b.token)
    assert other["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    anonymous = await api.gql(EXPORT, {"id": export["id"]})
    assert anonymous["data"]["dataExport"] is None and anonymous["errors"]


@dataclass(frozen=True)
class Counters:
    """What B sees that A's data fed: B's follower and following counts, B's post's like
    and comment counts, B's thread's reply count, B's unread notifications."""

    followers: int
    following: int
    likes: int
    comments: int
    replies: int
    unread: int


async def _counters(api: IdentityApi, f: Footprint) -> Counters:
    user = (await api.data(USER, {"id": f.b.id}, token=f.b.token))["user"]
    post = (await api.data(POST, {"id": f.b_post}, token=f.b.token))["post"]
    (thread,) = [e["node"] for e in post["comments"]["edges"] if e["node"]["id"] == f.b_thread]
    unread = (await api.data(UNREAD, token=f.b.token))["notifications"]["unreadCount"]
    return Counters(
        user["followerCount"],
        user["followingCount"],
        post["likeCount"],
        post["commentCount"],
        thread["replyCount"],
        unread,
    )


# Rules whose every user column the footprint fills, but for these columns: why not.
NOT_FILLED = {
    "users.account_deletions.user_id": "made by deleteAccount itself; checked gone after",
    "users.oidc_identities.user_id": "filled and erased by the test of an OIDC-only account",
    "feed.vip.author_id": "only for authors past the VIP follower threshold",
    "feed.vip_follow.viewer_id": "only for follows of VIP authors",
    "feed.vip_follow.vip_id": "only for follows of VIP authors",
    "feed.vip_post.author_id": "only for authors past the VIP follower threshold",
    "analytics.rollup_queue.user_id": "a queue the roller drains within a second",
    "analytics.rollup_queue.owner_id": "a queue the roller drains within a second",
}


async def _unfilled(res: Resources, user_id: int) -> list[str]:
    """Every user column of every rule in the registry (so a new table is covered the day
    it gets its rule) that holds no row naming the user; for the outbox, rows naming the
    user anywhere; for every object prefix, the user's objects."""
    registry = load()
    empty = []
    async with res.db.session() as session:
        for name, rule in sorted(registry.tables.items()):
            if rule.erase is Erase.TRANSIENT:
                if not await count_naming(session, rule, user_id):
                    empty.append(name)
                continue
            schema, table = name.split(".")
            for column in rule.user_columns:
                sql = f'SELECT EXISTS (SELECT 1 FROM "{schema}"."{table}" WHERE "{column}" = :u)'
                there = (await session.execute(text(sql), {"u": user_id})).scalar_one()
                if not there and f"{name}.{column}" not in NOT_FILLED:
                    empty.append(f"{name}.{column}")
    for prefix, objects in sorted(registry.objects.items()):
        if not await objects.keys(res, user_id):
            empty.append(prefix)
    return empty


async def _pending_upload(api: IdentityApi, who: Account) -> None:
    """A file uploaded to S3 for a post, never completed: it stays under uploads/."""
    body = await api.data(
        CREATE_POST_WITH_FILE,
        {"m": [{"contentType": "image/jpeg", "byteSize": len(PHOTO)}]},
        token=who.token,
    )
    (spec,) = body["createPost"]["uploads"]
    fields = {f["name"]: f["value"] for f in spec["fields"]}
    r = await api.http.post(
        spec["url"], data=fields, files={"file": ("a.jpg", PHOTO, "image/jpeg")}
    )
    assert r.status_code in (200, 201, 204), r.text


async def test_a_deleted_account_stops_at_once_and_leaves_nothing_behind(
    api: IdentityApi, settings: Settings
) -> None:
    f = await footprint(api)
    # an export archive too, a file never completed, and B views A's post
    made = (await api.data(REQUEST_EXPORT, token=f.a.token))["requestDataExport"]
    await _wait_ready(api, f.a, made["export"]["id"])
    await _pending_upload(api, f.a)
    now = datetime.now(UTC).isoformat()
    view = {"id": str(uuid.uuid4()), "type": "POST_VIEW", "occurredAt": now, "postId": f.a_posts[0]}
    assert (await api.data(TRACK, {"e": [view]}, token=f.b.token))["trackEvents"]["accepted"] == 1

    res = Resources.open(settings)
    try:
        # every rule's every column names A somewhere (the workers fill some of them: the
        # feed, notifications, the reset link, the rollups), and B's counters count A
        await eventually(lambda: _all_filled(res, int(f.a.id)), timeout=120, interval=0.5)
        # FOLLOW, LIKE, 2 COMMENTs and a REPLY from A; D's REPLYs in B's thread and on A's post
        before = Counters(1, 1, 1, 6, 2, 7)
        await eventually(lambda: _counters_are(api, f, before), timeout=60, interval=0.3)
    finally:
        await res.close()

    s3 = create_s3_client(settings)
    bucket = settings.s3_bucket
    before_keys = bucket_keys(s3, bucket)
    conn = await connect(settings)
    try:
        media = await conn.fetch(
            "SELECT object_key, stored_key FROM posts.media WHERE author_id = $1", int(f.a.id)
        )
        assert media and any(m["stored_key"] for m in media)
        a_keys = {
            k
            for k in before_keys
            for m in media
            if k == m["object_key"]
            or (m["stored_key"] and k.startswith(m["stored_key"].rsplit("/", 1)[0]))
        }
        a_keys |= {k for k in before_keys if k.startswith(f"exports/{f.a.id}/")}
        # the scan that proves A gone finds A everywhere A is, before the deletion
        naming = await rows_naming(conn, int(f.a.id), [f.a.username])
        expected = {t for t, rule in load().tables.items() if rule.erase is not Erase.NONE}
        assert expected - set(naming) <= {
            "users.account_deletions",
            "users.oidc_identities",
            "feed.vip",
            "feed.vip_follow",
            "feed.vip_post",
            "analytics.rollup_queue",
        }, sorted(expected - set(naming))
        # a photo, its thumbnails, a pending upload, the export archive
        assert len(a_keys) >= 4, a_keys
        assert {prefix_of(k) for k in a_keys} == set(load().objects), a_keys
        b_keys = {
            k for k in before_keys if k not in a_keys and k.startswith(("media/", "exports/"))
        }
        a_things = await _ids_of_a(conn, f)
    finally:
        await conn.close()

    # a wrong password changes nothing
    wrong = await api.data(DELETE, {"input": {"password": "not it at all"}}, token=f.a.token)
    assert [e["code"] for e in wrong["deleteAccount"]["errors"]] == ["INVALID_CREDENTIALS"]
    assert (await api.data(ME, token=f.a.token))["me"]["id"] == f.a.id

    done = await api.data(DELETE, {"input": {"password": PASSWORD}}, token=f.a.token)
    assert done["deleteAccount"]["errors"] == [] and done["deleteAccount"]["deletionRequestedAt"]

    # at once: the access token, the refresh token, the API key and the password stop working
    refused = await api.post(ME, token=f.a.token)
    assert refused.status_code == 401, refused.text
    assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "www-authenticate" in refused.headers

    async def key_refused() -> bool:
        r = await api.http.post(
            api.stack.graphql_url, json={"query": ME}, headers={"x-api-key": f.a_key}
        )
        return r.status_code == 401

    await eventually(key_refused)  # the revocation is published: soon, whatever the load
    body = await api.data(LOG_IN, {"l": f.a.username, "p": PASSWORD})
    assert [e["code"] for e in body["logIn"]["errors"]] == ["ACCOUNT_DISABLED"]
    refresh = await api.gql(
        "mutation($t: String!) { refreshSession(refreshToken: $t) { session { accessToken } } }",
        {"t": f.a.refresh},
    )
    assert refresh["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    # then every domain erases, and the account's own rows go last
    conn = await connect(settings)
    try:

        async def gone() -> bool:
            left = await conn.fetchval(
                "SELECT count(*) FROM users.users WHERE id = $1", int(f.a.id)
            )
            return left == 0

        await eventually(gone, timeout=180, interval=0.5)
        naming = await rows_naming(conn, int(f.a.id), [f.a.username])
        assert naming == {}, naming
        for thing in a_things:
            left = await rows_naming(conn, thing, [])
            left.pop("posts.moderation_actions", None)  # "post_id: may be gone"
            summary = {t: [_ids(r) for r in rows] for t, rows in left.items()}
            assert left == {}, f"{thing} is still named: {summary}"
        # the moderation log keeps the decision, without A
        kept = await conn.fetchrow(
            "SELECT author_id, moderator_id FROM posts.moderation_actions WHERE id = $1",
            int(f.moderation_id),
        )
        assert kept is not None and kept["author_id"] is None and kept["moderator_id"]
        # and A's own decision on B's post, without A
        anonymous = await conn.fetchval(
            "SELECT count(*) FROM posts.moderation_actions "
            "WHERE author_id = $1 AND moderator_id IS NULL",
            int(f.b.id),
        )
        assert anonymous == 1
    finally:
        await conn.close()

    after = bucket_keys(s3, bucket)
    assert a_keys & after == set()
    assert b_keys <= after
    prefixes = {prefix_of(k) for k in after | before_keys}
    assert prefixes <= set(load().objects), prefixes

    # B's counters no longer count A: B's thread keeps D's reply, B's unread is D's REPLY
    # in it (the one about A's post went with the post)
    after_counts = Counters(0, 0, 0, 2, 1, 1)
    await eventually(lambda: _counters_are(api, f, after_counts), timeout=30, interval=0.3)


async def _all_filled(res: Resources, user_id: int) -> bool:
    return not await _unfilled(res, user_id)


async def _counters_are(api: IdentityApi, f: Footprint, expected: Counters) -> bool:
    return await _counters(api, f) == expected


def _ids(row: dict[str, Any]) -> dict[str, Any]:
    """The columns that say what a row is about (for a readable failure)."""
    return {k: v for k, v in row.items() if k.endswith(("_id", "type", "kind", "key"))}


async def _ids_of_a(conn: Any, f: Footprint) -> list[int]:
    """A's posts and comments: nothing may refer to them afterwards (a notification of B's
    about A's post, a reply under A's comment) but the moderation log."""
    rows = await conn.fetch(
        "SELECT id FROM posts.posts WHERE author_id = $1 "
        "UNION ALL SELECT id FROM posts.comments WHERE author_id = $1",
        int(f.a.id),
    )
    return [int(r["id"]) for r in rows]


async def test_deleting_needs_a_confirmation_and_a_session(api: IdentityApi) -> None:
    account = await api.account("gdpr_c")
    neither = (await api.data(DELETE, {"input": {}}, token=account.token))["deleteAccount"]
    assert [e["code"] for e in neither["errors"]] == ["CONFIRMATION_REQUIRED"]
    anonymous = await api.gql(DELETE, {"input": {"password": PASSWORD}})
    assert anonymous["data"]["deleteAccount"] is None
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"
    key = (await api.data(API_KEY, token=account.token))["createApiKey"]["key"]
    r = await api.http.post(
        api.stack.graphql_url,
        json={"query": DELETE, "variables": {"input": {"password": PASSWORD}}},
        headers={"x-api-key": key},
    )
    assert r.json()["errors"][0]["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"
    # still there
    assert (await api.data(ME, token=account.token))["me"]["id"] == account.id


async def test_an_account_without_a_password_confirms_its_deletion_at_its_provider(
    api: IdentityApi, settings: Settings
) -> None:
    sub = new_subject("oidc-only")
    api.provider.add_user(sub, email=f"{sub}@mail.example")
    signed_in = await api.oidc_sign_in(sub)
    assert signed_in["outcome"] == "CREATED", signed_in
    token = signed_in["session"]["accessToken"]
    user_id = signed_in["session"]["user"]["id"]

    body = await api.data(DELETE, {"input": {"password": PASSWORD}}, token=token)
    assert [e["code"] for e in body["deleteAccount"]["errors"]] == ["PASSWORD_NOT_SET"]
    # a plain sign-in flow is not a confirmation
    plain = await api.start_oidc()
    code, state = await api.provider_redirect(plain["authorizationUrl"], sub)
    body = await api.data(DELETE, {"input": {"oidc": {"state": state, "code": code}}}, token=token)
    assert [e["code"] for e in body["deleteAccount"]["errors"]] == ["OIDC_STATE_INVALID"]
    # a confirmation by someone else at the provider
    stranger = new_subject("stranger")
    api.provider.add_user(stranger, email=f"{stranger}@mail.example")
    started = await api.start_oidc(purpose="CONFIRM", token=token)
    code, state = await api.provider_redirect(started["authorizationUrl"], stranger)
    body = await api.data(DELETE, {"input": {"oidc": {"state": state, "code": code}}}, token=token)
    assert [e["code"] for e in body["deleteAccount"]["errors"]] == ["OIDC_IDENTITY_NOT_LINKED"]
    assert (await api.data(ME, token=token))["me"]["id"] == user_id

    started = await api.start_oidc(purpose="CONFIRM", token=token)
    code, state = await api.provider_redirect(started["authorizationUrl"], sub)
    body = await api.data(DELETE, {"input": {"oidc": {"state": state, "code": code}}}, token=token)
    assert body["deleteAccount"]["errors"] == [], body
    assert (await api.post(ME, token=token)).status_code == 401

    conn = await connect(settings)
    try:

        async def gone() -> bool:
            n = await conn.fetchval("SELECT count(*) FROM users.users WHERE id = $1", int(user_id))
            return n == 0

        await eventually(gone, timeout=120, interval=0.5)
        assert await rows_naming(conn, int(user_id), [sub]) == {}
    finally:
        await conn.close()
    # the identity is free again: signing in with it makes a new account
    again = await api.oidc_sign_in(sub)
    assert again["outcome"] == "CREATED" and again["session"]["user"]["id"] != user_id
