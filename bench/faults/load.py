"""The load a fault scenario runs under, and what a client saw of it.

An open-loop sender (one request every 1/rate s, latency from the intended send time, as
bench/mixed/generator.py does) playing bench.mixed's operations with bench.mixed's queries:
the home feed, post detail, profile, `me`, like/unlike, comments and new posts. Follows are
left out on purpose: with the follower sets fixed, every acknowledged post has an exact
set of inboxes it must reach (bench/faults/truth.py).

With `images` (a fraction of the new posts), a new post carries a JPEG and the client goes
the whole upload path as an app does: createPost, the upload to S3 with the presigned POST,
completeMediaUpload; when the upload or the completion fails it tries again every 2 s (the
upload URL stays valid) for up to `UPLOAD_PATIENCE` seconds. Each try is counted under its
operation (`upload` for the POST to S3), in the phase it was made in (a request made
before the fault and still in flight when it came counts in the fault's).

Every answer is classified: `ok` (no error), `partial` (data with errors: some fields null
at their paths), or an error by code (no data, or a mutation refused with a payload error;
`HTTP_<status>` or the exception's name when no GraphQL answer came). The writes the router
acknowledged (a payload with the object and no error) are kept, to be compared with
PostgreSQL at the end. A like and an unlike of the same post by the same viewer are never
in flight together, so the last acknowledged one is the state PostgreSQL must hold.

Likes toggle from the state PostgreSQL holds when the load starts (`liked`,
bench.mixed.stack.liked_pairs): the graph outlives a scenario (and the data directory a
run), and a scenario plays the same sequence in every run (its seed), so a load that
assumed "nothing liked" would mostly send `likePost` for likes that exist: no-ops that change
nothing and publish no live event (0 events for the subscribers while every like was
acknowledged). Half the like operations unlike one of the likes held (those and the ones
the load made), the other half toggle a random viewer's like of a random hot post, so
every scenario sends both. Every acknowledged toggle is counted per phase and post
(`changes`), so a subscriber's events can be compared with the likes of its post.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from bench.analytics.stack import percentile
from bench.mixed.stack import Population
from bench.mixed.workload import (
    COMMENT,
    COMPLETE,
    CREATE_POST,
    FEED,
    LIKE,
    ME,
    POST_DETAIL,
    PROFILE,
    UNLIKE,
    jpeg,
)

TIMEOUT = aiohttp.ClientTimeout(total=60)
MIX = (("feed", 40), ("postDetail", 15), ("profile", 10), ("like", 20), ("me", 5))
MIX_WRITES = (("comment", 5), ("createPost", 5))
# operations that touch the media storage (S3): the rest must not notice it is down
MEDIA_OPS = ("createPost+image", "upload", "completeMediaUpload")
UPLOAD_PATIENCE = 120.0  # seconds a client keeps retrying an upload and its completion


@dataclass
class Acknowledged:
    """Writes the router answered as done."""

    likes: dict[tuple[str, str], bool] = field(default_factory=dict)  # (viewer, post) -> liked
    unsure: set[tuple[str, str]] = field(default_factory=set)  # last try failed: either way
    comments: list[tuple[str, str]] = field(default_factory=list)  # (comment id, post id)
    posts: list[tuple[str, str]] = field(default_factory=list)  # (post id, author id)
    liked_posts: set[str] = field(default_factory=set)  # every post a like touched
    media: dict[str, str] = field(default_factory=dict)  # media id -> post id (image posts)
    uploaded: set[str] = field(default_factory=set)  # media ids whose completion was acked


@dataclass
class Phase:
    """What the client saw of the requests sent during one phase of a scenario."""

    outcomes: Counter[str] = field(default_factory=Counter)  # ok, partial, CODE
    op_outcomes: dict[str, Counter[str]] = field(default_factory=dict)  # the same, per op
    latencies: list[float] = field(default_factory=list)  # ms, from the intended send time
    by_op: dict[str, list[float]] = field(default_factory=dict)  # the same, per operation

    def p95(self, *ops: str) -> float:
        values = [v for op in ops for v in self.by_op.get(op, ())] if ops else self.latencies
        return percentile(values, 95) if values else float("nan")

    def line(self, ops: tuple[str, ...] = ()) -> str:
        """The whole phase, or only the operations `ops`."""
        if ops:
            outcomes: Counter[str] = Counter()
            for op in ops:
                outcomes.update(self.op_outcomes.get(op, Counter()))
        else:
            outcomes = self.outcomes
        n = sum(outcomes.values())
        errors = {k: v for k, v in outcomes.items() if k not in ("ok", "partial")}
        shown = " ".join(f"{k}={v}" for k, v in sorted(errors.items())) or "none"
        p95 = self.p95(*ops)
        return (
            f"n={n} ok={outcomes['ok']} partial={outcomes['partial']} "
            f"errors[{shown}] p95={p95:.0f}ms"
        )

    def count(self, op: str, outcome: str, took_ms: float) -> None:
        self.outcomes[outcome] += 1
        self.op_outcomes.setdefault(op, Counter())[outcome] += 1
        self.latencies.append(took_ms)
        self.by_op.setdefault(op, []).append(took_ms)

    def ops(self) -> list[str]:
        return sorted(self.op_outcomes)


# Fields of the mix's queries that are never null for what the load asks (seeded posts and
# users, the viewer's own feed, payloads that carry their object or their errors) unless
# something failed, and then an error must say so on the null's path: at it, below it
# (null propagation) or above it. A null there with no such error is a silent null.
NEVER_NULL = frozenset(
    {
        "feed",
        "post",
        "user",
        "me",
        "author",
        "node",
        "likePost",
        "unlikePost",
        "addComment",
        "createPost",
        "completeMediaUpload",
    }
)
SILENT_NULL = "SILENT_NULL"


def silent_nulls(data: Any, errors: list[dict[str, Any]]) -> list[list[str | int]]:
    """The paths in `data` of NEVER_NULL fields that are null with no error on their path
    (an error without a path explains nothing) and not in a payload carrying its errors."""
    error_paths = [e["path"] for e in errors if isinstance(e.get("path"), list)]
    found: list[list[str | int]] = []

    def explained(path: list[str | int]) -> bool:
        # an error at the null or below it (null propagation), or at a field above it: the
        # router puts one error for a failed entity fetch at the place its objects share
        # (the 20 nodes of a feed page: ["feed", "edges"])
        return any(p[: len(path)] == path or (p and path[: len(p)] == p) for p in error_paths)

    def walk(value: Any, path: list[str | int]) -> None:
        if isinstance(value, dict):
            # a payload that carries its own errors (refused write) has its object null
            refused = bool(value.get("errors"))
            for key, child in value.items():
                here = [*path, key]
                if child is None:
                    if key in NEVER_NULL and not refused and not explained(here):
                        found.append(here)
                else:
                    walk(child, here)
        elif isinstance(value, list):
            for i, child in enumerate(value):
                walk(child, [*path, i])

    walk(data, [])
    return found


def classify(status: int, body: dict[str, Any] | None) -> str:
    """ok, partial, or the code of what went wrong (SILENT_NULL: a null no error explains)."""
    if body is None:
        return f"HTTP_{status}"
    errors = body.get("errors") or []
    data = body.get("data")
    if isinstance(data, dict) and silent_nulls(data, errors):
        return SILENT_NULL
    codes = [str((e.get("extensions") or {}).get("code") or "NO_CODE") for e in errors]
    payload_codes = [
        "payload:" + str(e.get("code"))
        for value in (data or {}).values()
        if isinstance(value, dict)
        for e in value.get("errors") or []
    ]
    if payload_codes:
        return payload_codes[0]
    if not codes:
        return "ok" if status == 200 else f"HTTP_{status}"
    if isinstance(data, dict) and any(v is not None for v in data.values()):
        return "partial"
    return codes[0]


def broken(outcome: str) -> bool:
    """An answer no fault excuses: an internal error, an error without a code, a silent null,
    an HTTP failure without a GraphQL answer, or no answer at all (an exception's name)."""
    if outcome in ("ok", "partial") or outcome.startswith("payload:"):
        return False
    if outcome in ("INTERNAL_SERVER_ERROR", "NO_CODE", SILENT_NULL) or outcome.startswith("HTTP_"):
        return True
    return not outcome.replace("_", "").isupper()  # not a code: an exception's name


def example(body: dict[str, Any] | None) -> str:
    """What to show of a broken answer: its errors (paths and codes) and its silent nulls."""
    if not isinstance(body, dict):
        return repr(body)[:300]
    errors = [
        {"path": e.get("path"), "code": (e.get("extensions") or {}).get("code")}
        for e in body.get("errors") or []
    ]
    nulls = silent_nulls(body.get("data"), body.get("errors") or [])
    return orjson.dumps({"errors": errors[:5], "silent_nulls": nulls[:5]}).decode()


class Load:
    """Sends the mix at `rate` until stopped; `phase` names the phase requests count in."""

    def __init__(
        self,
        url: str,
        population: Population,
        rate: float,
        *,
        liked: set[tuple[str, str]],
        seed: int = 1,
        writes: bool = True,
        images: float = 0.0,
    ) -> None:
        """`liked`: the (viewer id, post id) pairs liked in PostgreSQL now (liked_pairs)."""
        self.url = url + "/graphql"
        self.pop = population
        self.rate = rate
        self.images = images  # the fraction of new posts that carry an image
        self.image = jpeg() if images else b""
        self.rng = random.Random(seed)
        mix = MIX + (MIX_WRITES if writes else ())
        self.names = [n for n, _ in mix]
        self.weights = [w for _, w in mix]
        self.phase = "before"
        self.phases: dict[str, Phase] = {}
        self.acked = Acknowledged()
        self._liked: dict[tuple[str, str], bool] = dict.fromkeys(liked, True)
        self._liked_pairs = {key for key in liked if key[0] in population.viewer_ids}
        self._slot = {viewer: i for i, viewer in enumerate(population.viewer_ids)}
        # phase -> post id -> likes and unlikes acknowledged (each one a live event)
        self.changes: dict[str, Counter[str]] = {}
        self._busy: set[tuple[str, str]] = set()
        # "phase op outcome" -> answers no fault excuses (broken()), and the first of each
        self.broken: Counter[str] = Counter()
        self.broken_examples: dict[str, str] = {}
        # (intended send, answered) of each answer carrying SERVICE_UNAVAILABLE anywhere
        self.unavailable: list[tuple[float, float]] = []
        self._stop = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Load:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), timeout=TIMEOUT
        )
        if self.rate > 0:  # (rate 0: no load of its own, only what is asked: toggle_like)
            self._runner = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        self._stop.set()
        if self._runner is not None:
            await self._runner
            self._runner = None
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self) -> None:
        t0 = time.monotonic()
        interval = 1.0 / self.rate
        i = 0
        while not self._stop.is_set():
            intended = t0 + i * interval
            delay = intended - time.monotonic()
            if delay > 0:
                try:
                    await asyncio.wait_for(self._stop.wait(), delay)
                    return
                except TimeoutError:
                    pass
            i += 1
            name = self.rng.choices(self.names, self.weights)[0]
            k = self.rng.randrange(len(self.pop.tokens))
            task = asyncio.create_task(self._op(name, k, intended, self.phase))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _counted_in(self, sent_in: str) -> str:
        """The phase an answer counts in: the one its request was sent in, except that a
        request sent before the fault and still in flight when it came is the fault's (the
        request due just ahead of a SIGSTOP waited out the router's timeout, and one ahead
        of a SIGKILL got a partial answer: neither is the healthy stack's)."""
        if sent_in == "before" and self.phase in ("fault", "after"):
            return "fault"
        return sent_in

    async def _send(
        self,
        op: str,
        query: str,
        variables: dict[str, Any],
        token: str,
        intended: float,
        phase: str,
    ) -> dict[str, Any] | None:
        assert self._session is not None
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        body: dict[str, Any] | None = None
        status = 0
        try:
            async with self._session.post(
                self.url,
                data=orjson.dumps({"query": query, "variables": variables}),
                headers=headers,
            ) as r:
                status = r.status
                raw = await r.read()
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                body = None
            outcome = classify(status, body if isinstance(body, dict) else None)
        except Exception as exc:  # every failure is counted, by kind
            outcome = type(exc).__name__
        answered = time.monotonic()
        took = (answered - intended) * 1000
        phase = self._counted_in(phase)
        self.phases.setdefault(phase, Phase()).count(op, outcome, took)
        if broken(outcome):
            key = f"{phase} {op} {outcome}"
            self.broken[key] += 1
            self.broken_examples.setdefault(key, example(body))
        if isinstance(body, dict) and any(
            (e.get("extensions") or {}).get("code") == "SERVICE_UNAVAILABLE"
            for e in body.get("errors") or []
        ):
            self.unavailable.append((intended, answered))
        return body if isinstance(body, dict) else None

    async def _op(self, name: str, k: int, intended: float, phase: str) -> None:
        pop, rng = self.pop, self.rng
        token, viewer = pop.tokens[k], pop.viewer_ids[k]
        if name == "feed":
            await self._send("feed", FEED, {}, token, intended, phase)
        elif name == "postDetail":
            await self._send(
                "postDetail", POST_DETAIL, {"id": rng.choice(pop.post_ids)}, token, intended, phase
            )
        elif name == "profile":
            await self._send(
                "profile", PROFILE, {"id": rng.choice(pop.user_ids)}, token, intended, phase
            )
        elif name == "me":
            await self._send("me", ME, {}, token, intended, phase)
        elif name == "like":
            # half the time one of the likes held now (an unlike), else the viewer's like or
            # unlike of a random hot post: a random pair is rarely picked twice in a
            # scenario, so without the first half a scenario would only like (its pairs
            # start unliked) or, run again on the same data, only unlike
            if self._liked_pairs and rng.random() < 0.5:
                viewer, post = rng.choice(sorted(self._liked_pairs))
                token = pop.tokens[self._slot[viewer]]
            else:
                post = rng.choice(pop.hot_post_ids[:50])
            await self._like(token, viewer, post, intended, phase)
        elif name == "comment":
            post = rng.choice(pop.hot_post_ids[:50])
            text = f"fault comment {rng.randrange(10**9)}"
            variables: dict[str, Any] = {"input": {"postId": post, "text": text}}
            body = await self._send("comment", COMMENT, variables, token, intended, phase)
            got = ((body or {}).get("data") or {}).get("addComment") or {}
            if got.get("comment") and not got.get("errors"):
                self.acked.comments.append((got["comment"]["id"], post))
        elif name == "createPost":
            text = f"fault post {rng.randrange(10**9)}"
            image = rng.random() < self.images
            media = [{"contentType": "image/jpeg", "byteSize": len(self.image)}] if image else []
            variables = {"input": {"text": text, "media": media}}
            op = "createPost+image" if image else "createPost"
            body = await self._send(op, CREATE_POST, variables, token, intended, phase)
            got = ((body or {}).get("data") or {}).get("createPost") or {}
            if got.get("post") and not got.get("errors"):
                self.acked.posts.append((got["post"]["id"], viewer))
                for upload in got.get("uploads") or []:
                    self.acked.media[str(upload["mediaId"])] = got["post"]["id"]
                    await self._upload(token, upload)

    async def _upload(self, token: str, upload: dict[str, Any]) -> None:
        """POST the image to S3, then completeMediaUpload, each retried every 2 s until it
        succeeds or UPLOAD_PATIENCE has passed (an app's retry)."""
        assert self._session is not None
        media_id = str(upload["mediaId"])
        give_up = time.monotonic() + UPLOAD_PATIENCE
        while not await self._upload_once(upload):
            if time.monotonic() > give_up:
                return
            await asyncio.sleep(2.0)
        while True:
            body = await self._send(
                "completeMediaUpload",
                COMPLETE,
                {"id": media_id},
                token,
                time.monotonic(),
                self.phase,
            )
            got = ((body or {}).get("data") or {}).get("completeMediaUpload") or {}
            if got.get("media") and not got.get("errors"):
                self.acked.uploaded.add(media_id)
                return
            if time.monotonic() > give_up:
                return
            await asyncio.sleep(2.0)

    async def _upload_once(self, upload: dict[str, Any]) -> bool:
        assert self._session is not None
        form = aiohttp.FormData()
        for f in upload["fields"]:
            form.add_field(f["name"], f["value"])
        form.add_field("file", self.image, content_type="image/jpeg", filename="photo.jpg")
        started, phase = time.monotonic(), self.phase
        try:
            async with self._session.post(upload["url"], data=form) as r:
                await r.read()
                outcome = "ok" if r.status < 300 else f"HTTP_{r.status}"
        except Exception as exc:  # S3 away: connection refused, reset, timeout
            outcome = type(exc).__name__
        took = (time.monotonic() - started) * 1000
        self.phases.setdefault(self._counted_in(phase), Phase()).count("upload", outcome, took)
        return outcome == "ok"

    async def toggle_like(self, k: int, post: str) -> None:
        """Viewer slot `k` likes `post`, or unlikes it if it likes it (as the mix does)."""
        pop = self.pop
        await self._like(pop.tokens[k], pop.viewer_ids[k], post, time.monotonic(), self.phase)

    async def _like(self, token: str, viewer: str, post: str, intended: float, phase: str) -> None:
        key = (viewer, post)
        if key in self._busy:  # one write per (viewer, post) at a time: the order is known
            await self._send("me", ME, {}, token, intended, phase)
            return
        self._busy.add(key)
        try:
            like = not self._liked.get(key, False)
            query, field_name = (LIKE, "likePost") if like else (UNLIKE, "unlikePost")
            self.acked.liked_posts.add(post)
            body = await self._send(field_name, query, {"id": post}, token, intended, phase)
            got = ((body or {}).get("data") or {}).get(field_name) or {}
            if got.get("post") and not got.get("errors"):
                if key not in self.acked.unsure:  # (after an unsure try it may be a no-op)
                    self.changes.setdefault(phase, Counter())[post] += 1
                self._liked[key] = like
                if like:
                    self._liked_pairs.add(key)
                else:
                    self._liked_pairs.discard(key)
                self.acked.likes[key] = like
                self.acked.unsure.discard(key)
            else:
                self.acked.unsure.add(key)  # it may or may not have been applied
        finally:
            self._busy.discard(key)
