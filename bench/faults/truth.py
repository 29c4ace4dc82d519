"""What was lost: the acknowledged writes compared with PostgreSQL, the system of record.

- every acknowledged like/unlike (the last one per viewer and post) is the row's presence;
- every post a like touched has `like_count` equal to its like rows (the buffered counter
  flushed exactly, nothing counted twice or dropped);
- every acknowledged comment and post exists;
- every acknowledged post of an ordinary (non-VIP) author is in the inbox of each of the
  author's followers (the fan-out finished), except a post with an image that failed
  (such a post is never published);
- no post is stuck: every image of an acknowledged post is READY with its stored copy, or
  FAILED with a reason; one still PENDING_UPLOAD or PROCESSING is stuck (a client that gave
  up its upload counts too: the run's clients retry until it is done).

Counters and fan-out are eventually consistent, so `settle` asks again until nothing is
missing or its time is up (150 s: more than the worker's 60 s job lease, after which a job
whose worker died runs again); what is still missing then is lost.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import asyncpg

from bench.faults.load import Acknowledged


@dataclass
class Lost:
    likes: list[tuple[str, str]] = field(default_factory=list)
    counters: list[tuple[str, int, int]] = field(default_factory=list)  # post, count, truth
    comments: list[str] = field(default_factory=list)
    posts: list[str] = field(default_factory=list)
    inboxes: int = 0  # (follower, post) inbox entries missing
    stuck: list[tuple[str, str]] = field(default_factory=list)  # media id, its status
    media_failed: list[tuple[str, str]] = field(default_factory=list)  # media id, reason

    @property
    def total(self) -> int:
        return (
            len(self.likes)
            + len(self.counters)
            + len(self.comments)
            + len(self.posts)
            + self.inboxes
            + len(self.stuck)
        )

    def describe(self) -> str:
        parts = []
        if self.likes:
            parts.append(f"likes {len(self.likes)} (e.g. {self.likes[:3]})")
        if self.counters:
            parts.append(
                f"like_count wrong on {len(self.counters)} posts (e.g. {self.counters[:3]})"
            )
        if self.comments:
            parts.append(f"comments {len(self.comments)}")
        if self.posts:
            parts.append(f"posts {len(self.posts)}")
        if self.inboxes:
            parts.append(f"inbox entries {self.inboxes}")
        if self.stuck:
            parts.append(f"media stuck {len(self.stuck)} (e.g. {self.stuck[:3]})")
        return ", ".join(parts) or "nothing"


async def check(dsn: str, acked: Acknowledged) -> Lost:
    lost = Lost()
    conn = await asyncpg.connect(dsn)
    try:
        keys = [k for k in acked.likes if k not in acked.unsure]
        if keys:
            rows = await conn.fetch(
                "SELECT k.u, k.p, EXISTS (SELECT 1 FROM posts.likes l WHERE l.user_id = k.u "
                "AND l.post_id = k.p) AS liked FROM unnest($1::bigint[], $2::bigint[]) AS k(u, p)",
                [int(u) for u, _ in keys],
                [int(p) for _, p in keys],
            )
            have = {(str(r["u"]), str(r["p"])): r["liked"] for r in rows}
            lost.likes = [k for k in keys if have[k] != acked.likes[k]]
        if acked.liked_posts:
            rows = await conn.fetch(
                "SELECT p.id, p.like_count, (SELECT count(*) FROM posts.likes l "
                "WHERE l.post_id = p.id) AS truth FROM posts.posts p WHERE p.id = ANY($1)",
                [int(p) for p in acked.liked_posts],
            )
            lost.counters = [
                (str(r["id"]), r["like_count"], r["truth"])
                for r in rows
                if r["like_count"] != r["truth"]
            ]
        if acked.comments:
            ids = [int(c) for c, _ in acked.comments]
            found = {
                r["id"]
                for r in await conn.fetch("SELECT id FROM posts.comments WHERE id = ANY($1)", ids)
            }
            lost.comments = [str(c) for c in ids if c not in found]
        if acked.posts:
            ids = [int(p) for p, _ in acked.posts]
            found = {
                r["id"]
                for r in await conn.fetch("SELECT id FROM posts.posts WHERE id = ANY($1)", ids)
            }
            lost.posts = [str(p) for p in ids if p not in found]
            missing = await conn.fetchval(
                """
                SELECT count(*) FROM unnest($1::bigint[], $2::bigint[]) AS a(post_id, author_id)
                JOIN users.follows f ON f.followee_id = a.author_id
                WHERE NOT EXISTS (SELECT 1 FROM feed.vip v
                                  WHERE v.author_id = a.author_id AND v.state = 'vip')
                  AND NOT EXISTS (SELECT 1 FROM posts.media m
                                  WHERE m.post_id = a.post_id AND m.status = 'FAILED')
                  AND NOT EXISTS (SELECT 1 FROM feed.inbox i
                                  WHERE i.viewer_id = f.follower_id AND i.post_id = a.post_id)
                """,
                ids,
                [int(a) for _, a in acked.posts],
            )
            lost.inboxes = int(missing or 0)
        if acked.media:
            rows = await conn.fetch(
                "SELECT id, status, stored_key, failure_reason FROM posts.media WHERE id = ANY($1)",
                [int(m) for m in acked.media],
            )
            for r in rows:
                if r["status"] == "FAILED" and r["failure_reason"]:
                    lost.media_failed.append((str(r["id"]), r["failure_reason"]))
                elif r["status"] != "READY" or not r["stored_key"]:
                    lost.stuck.append((str(r["id"]), r["status"]))
    finally:
        await conn.close()
    return lost


async def settle(dsn: str, acked: Acknowledged, timeout: float = 150.0) -> tuple[Lost, float]:
    """Check until nothing is missing or `timeout` passed: (what is missing, seconds waited)."""
    started = time.monotonic()
    while True:
        try:
            lost = await check(dsn, acked)
        except (OSError, asyncpg.PostgresError):
            lost = None  # PostgreSQL still coming back
        waited = time.monotonic() - started
        if lost is not None and (lost.total == 0 or waited > timeout):
            return lost, waited
        if lost is None and waited > timeout:
            raise RuntimeError("PostgreSQL did not answer the final check")
        await asyncio.sleep(1.0)
