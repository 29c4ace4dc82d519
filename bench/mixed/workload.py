"""The mix the mixed workload plays, with the reasons for each share.

A session of a social app is mostly reading: opening the app shows the home feed, and
scrolling it is what people do most (40%). Tapping into a post (detail with its comments,
15%) and into someone's profile with their followers (10%) are the next reads. The
commonest write is a like (10%, alternating like and unlike per user and post, so the
state stays bounded and both paths run). Clients batch what they saw into `trackEvents`
(8%, 10 POST_VIEW events per batch, as the web client flushes views while scrolling). `me`
(5%) is the app's start-up and token check. Comments (4%), new posts (3%, a fifth of them
with an image: createPost, the upload to S3 with the presigned POST, completeMediaUpload,
then the worker's processing) and follow/unfollow (3%) are the rarer writes. The shares
are the issue's; they add up to 98 and are used as relative weights.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

FEED = """query Home {
  feed(first: 20) {
    edges {
      cursor
      node { id text createdAt likeCount viewerHasLiked author { username displayName } }
    }
    pageInfo { hasNextPage endCursor }
  }
}"""
POST_DETAIL = """query PostDetail($id: ID!) {
  post(id: $id) {
    id text createdAt likeCount viewerHasLiked commentCount
    author { id username displayName }
    media { id status url }
    comments(first: 20) {
      edges { node { id text createdAt author { id username } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""
PROFILE = """query Profile($id: ID!) {
  user(id: $id) {
    id username displayName bio followerCount followingCount viewerFollows
    followers(first: 20) {
      edges { node { id username displayName } }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""
LIKE = """mutation Like($id: ID!) {
  likePost(postId: $id) { post { id likeCount viewerHasLiked } errors { code message } }
}"""
UNLIKE = """mutation Unlike($id: ID!) {
  unlikePost(postId: $id) { post { id likeCount viewerHasLiked } errors { code message } }
}"""
TRACK = """mutation Track($events: [EventInput!]!) {
  trackEvents(events: $events) { accepted rejected rejections { index reason message } }
}"""
ME = "query Me { me { id username displayName followerCount followingCount } }"
COMMENT = """mutation Comment($input: AddCommentInput!) {
  addComment(input: $input) {
    comment { id text createdAt author { id username } }
    errors { code message }
  }
}"""
CREATE_POST = """mutation CreatePost($input: CreatePostInput!) {
  createPost(input: $input) {
    post { id text createdAt }
    uploads { mediaId method url fields { name value } }
    errors { code message }
  }
}"""
COMPLETE = """mutation Complete($id: ID!) {
  completeMediaUpload(mediaId: $id) { media { id status } errors { code message } }
}"""
FOLLOW = """mutation Follow($id: ID!) {
  follow(userId: $id) { changed user { id followerCount viewerFollows } }
}"""
UNFOLLOW = """mutation Unfollow($id: ID!) {
  unfollow(userId: $id) { changed user { id followerCount viewerFollows } }
}"""

# (name, weight): the shares.
MIX: list[tuple[str, int]] = [
    ("feed", 40),
    ("postDetail", 15),
    ("profile", 10),
    ("like", 10),
    ("trackEvents", 8),
    ("me", 5),
    ("comment", 4),
    ("createPost", 3),
    ("follow", 3),
]


@dataclass
class Call:
    """One request to the router: the operation name reported, the query, its variables."""

    op: str
    query: str
    variables: dict[str, Any]


class Sender:
    """What an operation needs from the generator: send a request and record it."""

    async def graphql(
        self, call: Call, token: str, intended: float | None = None
    ) -> dict[str, Any] | None:
        raise NotImplementedError

    async def upload(self, upload: dict[str, Any], body: bytes) -> bool:
        raise NotImplementedError


@dataclass
class Viewer:
    token: str
    id: str
    liked: set[str]
    follows: set[str]


def _events(rng: random.Random, post_ids: list[str]) -> list[dict[str, Any]]:
    now = datetime.now(UTC).isoformat()
    return [
        {"id": uuid.uuid4().hex, "type": "POST_VIEW", "occurredAt": now, "postId": pid}
        for pid in rng.sample(post_ids, 10)
    ]


class Workload:
    def __init__(
        self,
        viewers: list[Viewer],
        post_ids: list[str],
        hot_post_ids: list[str],
        user_ids: list[str],
        image: bytes,
        rng: random.Random,
        mix: list[tuple[str, int]] | None = None,
    ) -> None:
        self.viewers, self.post_ids, self.hot = viewers, post_ids, hot_post_ids
        self.user_ids, self.image, self.rng = user_ids, image, rng
        self.names = [name for name, _ in mix or MIX]
        self.weights = [w for _, w in mix or MIX]
        self.ops: dict[str, Callable[[Sender, Viewer, float], Coroutine[Any, Any, None]]] = {
            "feed": self.feed,
            "postDetail": self.post_detail,
            "profile": self.profile,
            "like": self.like,
            "trackEvents": self.track,
            "me": self.me,
            "comment": self.comment,
            "createPost": self.create_post,
            "follow": self.follow,
        }

    def next(self) -> tuple[Callable[[Sender, Viewer, float], Coroutine[Any, Any, None]], Viewer]:
        name = self.rng.choices(self.names, self.weights)[0]
        return self.ops[name], self.rng.choice(self.viewers)

    async def feed(self, s: Sender, v: Viewer, t: float) -> None:
        await s.graphql(Call("feed", FEED, {}), v.token, t)

    async def post_detail(self, s: Sender, v: Viewer, t: float) -> None:
        pid = self.rng.choice(self.post_ids)
        await s.graphql(Call("postDetail", POST_DETAIL, {"id": pid}), v.token, t)

    async def profile(self, s: Sender, v: Viewer, t: float) -> None:
        uid = self.rng.choice(self.user_ids)
        await s.graphql(Call("profile", PROFILE, {"id": uid}), v.token, t)

    async def like(self, s: Sender, v: Viewer, t: float) -> None:
        pid = self.rng.choice(self.hot)
        if pid in v.liked:
            v.liked.discard(pid)
            await s.graphql(Call("unlikePost", UNLIKE, {"id": pid}), v.token, t)
        else:
            v.liked.add(pid)
            await s.graphql(Call("likePost", LIKE, {"id": pid}), v.token, t)

    async def track(self, s: Sender, v: Viewer, t: float) -> None:
        events = _events(self.rng, self.post_ids)
        await s.graphql(Call("trackEvents", TRACK, {"events": events}), v.token, t)

    async def me(self, s: Sender, v: Viewer, t: float) -> None:
        await s.graphql(Call("me", ME, {}), v.token, t)

    async def comment(self, s: Sender, v: Viewer, t: float) -> None:
        pid = self.rng.choice(self.hot)
        text = f"bench comment {self.rng.randrange(10**9)}"
        call = Call("addComment", COMMENT, {"input": {"postId": pid, "text": text}})
        await s.graphql(call, v.token, t)

    async def create_post(self, s: Sender, v: Viewer, t: float) -> None:
        with_image = self.rng.random() < 0.2
        media = [{"contentType": "image/jpeg", "byteSize": len(self.image)}] if with_image else []
        text = f"bench post {self.rng.randrange(10**9)}"
        op = "createPost+image" if with_image else "createPost"
        call = Call(op, CREATE_POST, {"input": {"text": text, "media": media}})
        body = await s.graphql(call, v.token, t)
        if not with_image or body is None:
            return
        payload = (body.get("data") or {}).get("createPost") or {}
        for upload in payload.get("uploads") or []:
            if await s.upload(upload, self.image):
                done = Call("completeMediaUpload", COMPLETE, {"id": upload["mediaId"]})
                await s.graphql(done, v.token, time.monotonic())

    async def follow(self, s: Sender, v: Viewer, t: float) -> None:
        uid = self.rng.choice(self.user_ids)
        if uid == v.id:
            uid = self.user_ids[0] if self.user_ids[0] != v.id else self.user_ids[1]
        if uid in v.follows:
            v.follows.discard(uid)
            await s.graphql(Call("unfollow", UNFOLLOW, {"id": uid}), v.token, t)
        else:
            v.follows.add(uid)
            await s.graphql(Call("follow", FOLLOW, {"id": uid}), v.token, t)


def parse_mix(text: str) -> list[tuple[str, int]]:
    """`feed=1` or `feed=3,me=1`: another mix of the same operations (weights)."""
    names = {name for name, _ in MIX}
    out: list[tuple[str, int]] = []
    for part in text.split(","):
        name, _, weight = part.partition("=")
        if name not in names or not weight.isdigit():
            raise ValueError(f"--mix: {part!r} is not NAME=WEIGHT with NAME one of {sorted(names)}")
        out.append((name, int(weight)))
    return out


def jpeg(width: int = 640, height: int = 480) -> bytes:
    """A real JPEG photo-like image (gradient and noise), so the worker decodes and resizes."""
    import io

    from PIL import Image

    img = Image.effect_noise((width, height), 40).convert("RGB")
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


def error_codes(body: dict[str, Any]) -> list[str]:
    """Codes of a response's errors, and of UserErrors in any payload's `errors` list."""
    codes = [
        str((e.get("extensions") or {}).get("code") or "NO_CODE") for e in body.get("errors") or []
    ]
    for value in (body.get("data") or {}).values():
        if isinstance(value, dict):
            for e in value.get("errors") or []:
                codes.append("payload:" + str(e.get("code")))
            if isinstance(value.get("rejected"), int) and value["rejected"]:
                codes.append("payload:EVENTS_REJECTED")
    return codes
