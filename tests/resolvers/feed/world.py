"""Building a small social world for feed tests through the owning domains' resolvers."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import text

from puppies.settings import Settings
from resolvers.posts.posts import create_post
from resolvers.posts.posts import delete_post as posts_delete_post
from resolvers.runtime import Resources
from resolvers.users.bulk import insert_follows, insert_users, recount
from resolvers.users.follows import follow, unfollow

_names = itertools.count()


class World:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.res = Resources.open(settings)

    @property
    def db(self) -> Any:
        return self.res.db

    async def close(self) -> None:
        await self.res.close()

    async def users(self, n: int) -> list[int]:
        rows = []
        for _ in range(n):
            i = next(_names)
            rows.append((f"pup{i}", f"pup{i}@example.test", f"Pup {i}", ""))
        ids: list[int] = []
        for start in range(0, n, 5000):
            chunk = rows[start : start + 5000]
            made = await insert_users(self.res, chunk, "not-a-real-hash")
            ids += [made[r[0]] for r in chunk]
        return ids

    async def follow(self, follower: int, followee: int) -> None:
        await follow(self.res, follower, followee)

    async def unfollow(self, follower: int, followee: int) -> None:
        await unfollow(self.res, follower, followee)

    async def bulk_follow(self, followers: list[int], followee: int) -> None:
        """Many edges at once (no events: for graphs set up before the feed runs)."""
        for start in range(0, len(followers), 10000):
            await insert_follows(
                self.res, [(f, followee) for f in followers[start : start + 10000]]
            )
        await recount(self.res)

    async def post(self, author: int, body: str = "woof") -> int:
        created = await create_post(self.res, author, body, [])
        return created.post.id

    async def delete(self, author: int, post_id: int) -> None:
        await posts_delete_post(self.res, author, post_id)

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.db.session() as session:
            return (await session.execute(text(sql), params)).scalar()

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.db.session() as session:
            return list(await session.execute(text(sql), params))

    async def execute(self, sql: str, **params: Any) -> None:
        """A committed write (test set-up only)."""
        async with self.db.transaction() as session:
            await session.execute(text(sql), params)

    async def inbox(self, viewer: int) -> list[int]:
        return [
            r[0]
            for r in await self.rows(
                "SELECT post_id FROM feed.inbox WHERE viewer_id = :v ORDER BY post_id DESC",
                v=viewer,
            )
        ]
