"""A like's outbox row (`post.liked` / `post.unliked`, written inside the like's own single
statement) carries the trace and request id exactly as `emit` writes them: in generated
request contexts (an incoming traceparent or none, a request id or none), each like and
unlike is followed by an event written by `emit` in the same context, and the two rows'
trace columns must be equal (and, with tracing off as here, the incoming ones)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy import text

from models.outbox import emit
from puppies.observability.context import reset_request_id, set_request_id
from resolvers.posts import likes, posts
from resolvers.runtime import Resources

_PROPAGATOR = TraceContextTextMapPropagator()


@contextmanager
def _request(traceparent: str | None, rid: str | None) -> Iterator[None]:
    """What the ASGI middleware sets up for a request with these headers."""
    token = set_request_id(rid)
    ctx = _PROPAGATOR.extract({"traceparent": traceparent} if traceparent else {})
    attached = otel_context.attach(ctx)
    try:
        yield
    finally:
        otel_context.detach(attached)
        reset_request_id(token)


async def _trace_columns(res: Resources, event_id: int) -> tuple[Any, Any]:
    async with res.db.session() as s:
        row = (
            await s.execute(
                text("SELECT traceparent, request_id FROM posts.outbox WHERE id = :i"),
                {"i": event_id},
            )
        ).one()
    return row[0], row[1]


async def _last_event(res: Resources, event_type: str, post_id: int) -> int:
    async with res.db.session() as s:
        return int(
            (
                await s.execute(
                    text(
                        "SELECT max(id) FROM posts.outbox "
                        "WHERE event_type = :t AND aggregate_id = :p"
                    ),
                    {"t": event_type, "p": post_id},
                )
            ).scalar_one()
        )


async def _emitted(res: Resources, event_type: str, post_id: int) -> int:
    async with res.db.transaction() as s:
        return await emit(s, "posts", event_type, {"probe": True}, aggregate_id=post_id)


async def test_a_likes_event_carries_the_trace_emit_writes(res: Resources) -> None:
    rng = random.Random(2325)
    post = (await posts.create_post(res, 40, "like me", [])).post.id
    seen: set[tuple[Any, Any]] = set()
    for i in range(40):
        trace_id, span_id = rng.getrandbits(128) | 1, rng.getrandbits(64) | 1
        flags = rng.choice(["00", "01"])
        traceparent = None if rng.random() < 0.2 else f"00-{trace_id:032x}-{span_id:016x}-{flags}"
        rid = None if rng.random() < 0.2 else rng.choice(["r", "req-", "a.b:c/"]) + str(i)
        user = 100 + i
        with _request(traceparent, rid):
            for like, event_type in ((True, "post.liked"), (False, "post.unliked")):
                change = await (likes.like_post if like else likes.unlike_post)(res, user, post)
                assert change.changed
                got = await _trace_columns(res, await _last_event(res, event_type, post))
                want = await _trace_columns(res, await _emitted(res, "probe", post))
                assert got == want == (traceparent, rid), (got, want)
                seen.add(got)
                # a like that changes nothing writes no event
                again = await (likes.like_post if like else likes.unlike_post)(res, user, post)
                assert not again.changed
                assert await _last_event(res, event_type, post) <= await _last_event(
                    res, "probe", post
                )
    assert sum(tp is None for tp, _ in seen) >= 2 and sum(r is None for _, r in seen) >= 2
    assert len(seen) > 30
