"""Issue 9, bug 6: analytics rejects, per event, references to posts and users that do
not exist (or that the sender may not see), as INVALID_REFERENCE, asking the owning
domains (one statement each per batch)."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.subgraphs.posts.images import photo
from tests.support.client import Api

TRACK = """mutation($e: [EventInput!]!) { trackEvents(events: $e) {
  accepted rejected rejections { index reason message } } }"""


async def test_events_about_missing_posts_and_users_are_rejected_alone(api: Api) -> None:
    rex, fan = await api.account("rex"), await api.account("fan")
    post_id, _ = await api.create_post(rex, "real")
    png = photo(32, 32, "PNG")
    hidden, _ = await api.create_post(rex, "waiting for its file", [("image/png", png)])
    now = datetime.now(UTC).isoformat()
    events = [
        {"id": "v-real", "type": "POST_VIEW", "occurredAt": now, "postId": post_id},
        {"id": "v-ghost", "type": "POST_VIEW", "occurredAt": now, "postId": "999999999"},
        {"id": "p-real", "type": "PROFILE_VIEW", "occurredAt": now, "userId": rex.id},
        {"id": "p-ghost", "type": "PROFILE_VIEW", "occurredAt": now, "userId": "999999998"},
        {"id": "s-hidden", "type": "SHARE", "occurredAt": now, "postId": hidden},
    ]
    body = await api.data(TRACK, {"e": events}, token=fan.token)
    result = body["trackEvents"]
    assert (result["accepted"], result["rejected"]) == (2, 3), result
    assert [(r["index"], r["reason"]) for r in result["rejections"]] == [
        (1, "INVALID_REFERENCE"),
        (3, "INVALID_REFERENCE"),
        (4, "INVALID_REFERENCE"),
    ]
    assert "post 999999999 does not exist" in result["rejections"][0]["message"]
    assert "user 999999998 does not exist" in result["rejections"][1]["message"]
    # the author may count views of their own unpublished post
    mine = await api.data(
        TRACK,
        {"e": [{"id": "own", "type": "POST_VIEW", "occurredAt": now, "postId": hidden}]},
        token=rex.token,
    )
    assert mine["trackEvents"]["accepted"] == 1
