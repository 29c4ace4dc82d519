"""Blocks and mutes: who hides whom (docs/social.md).

- A block hides the two accounts from each other's content, both ways: posts (feeds,
  post by id, lists, search), comments and likes lists; and neither can follow the other.
  Blocking removes the follows between them, both ways, with their counters and their
  `user.unfollowed` events (the feed removes the posts), in the block's transaction and
  under the pair's lock (`follows.pair_lock`), so a concurrent follow cannot slip through.
- A mute hides the muted account's posts from the muter's home feed and stops its
  notifications to the muter. Nothing else changes: follows stay, the muted account is
  not told.

Both are idempotent rows (primary key (actor, target)); `changed` says whether a call did
anything. Events: `user.blocked`, `user.unblocked`, `user.muted`, `user.unmuted`.
Other domains ask who is hidden through `resolvers/users/graph_queries.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.types import BigInteger, Integer

from models.outbox import emit
from models.users import SCHEMA
from puppies.pagination import Page, PageRequest, page_from_rows
from resolvers.errors import BadInput, NotFound
from resolvers.runtime import Resources
from resolvers.users.follows import pair_lock, remove_follow


@dataclass(frozen=True)
class Relation:
    """One kind of hiding: its table and the names of its two columns."""

    table: str
    actor: str
    target: str
    on: str  # event when created
    off: str  # event when removed
    verb: str  # for messages

    def insert(self) -> TextClause:
        return text(
            f"INSERT INTO users.{self.table} ({self.actor}, {self.target}) VALUES (:a, :b) "
            "ON CONFLICT DO NOTHING RETURNING id"
        )

    def delete(self) -> TextClause:
        return text(
            f"DELETE FROM users.{self.table} WHERE {self.actor} = :a AND {self.target} = :b "
            "RETURNING id"
        )

    def pages(self) -> TextClause:
        return text(
            f"""
            SELECT q.ord, r.id, r.{self.target}
              FROM unnest(:uids, :afters, :limits) WITH ORDINALITY AS q(uid, after, lim, ord)
              CROSS JOIN LATERAL (
                    SELECT id, {self.target} FROM users.{self.table}
                     WHERE {self.actor} = q.uid AND (q.after IS NULL OR id < q.after)
                     ORDER BY id DESC LIMIT q.lim
              ) r
             ORDER BY q.ord, r.id DESC
            """
        ).bindparams(
            bindparam("uids", type_=ARRAY(BigInteger)),
            bindparam("afters", type_=ARRAY(BigInteger)),
            bindparam("limits", type_=ARRAY(Integer)),
        )

    def among(self) -> TextClause:
        return text(
            f"SELECT {self.target} FROM users.{self.table} "
            f"WHERE {self.actor} = :a AND {self.target} = ANY(:ids)"
        ).bindparams(bindparam("ids", type_=ARRAY(BigInteger)))


BLOCKS = Relation("blocks", "blocker_id", "blocked_id", "user.blocked", "user.unblocked", "block")
MUTES = Relation("mutes", "muter_id", "muted_id", "user.muted", "user.unmuted", "mute")


@dataclass(frozen=True)
class BlockResult:
    changed: bool
    # follows the block removed: (follower, followee)
    unfollowed: tuple[tuple[int, int], ...] = ()


def _check_pair(relation: Relation, actor: int, target: int) -> None:
    if actor == target:
        raise BadInput(f"you cannot {relation.verb} yourself", field="userId")


async def _set(res: Resources, relation: Relation, actor: int, target: int) -> BlockResult:
    _check_pair(relation, actor, target)
    try:
        async with res.db.transaction() as session:
            if relation is BLOCKS:
                await pair_lock(session, actor, target)
            created = (await session.execute(relation.insert(), {"a": actor, "b": target})).first()
            unfollowed: list[tuple[int, int]] = []
            if relation is BLOCKS:
                # the follows go whether or not the block is new: a follow can only exist
                # here if it predates this code, and it must not survive a block
                for follower, followee in ((actor, target), (target, actor)):
                    if await remove_follow(session, follower, followee):
                        unfollowed.append((follower, followee))
            if created is not None:
                await emit(
                    session,
                    SCHEMA,
                    relation.on,
                    {relation.actor: actor, relation.target: target},
                    aggregate_id=actor,
                )
    except IntegrityError:
        raise NotFound(f"no user with id {target}", field="userId") from None
    return BlockResult(changed=created is not None, unfollowed=tuple(unfollowed))


async def _unset(res: Resources, relation: Relation, actor: int, target: int) -> bool:
    _check_pair(relation, actor, target)
    async with res.db.transaction() as session:
        removed = (await session.execute(relation.delete(), {"a": actor, "b": target})).first()
        if removed is not None:
            await emit(
                session,
                SCHEMA,
                relation.off,
                {relation.actor: actor, relation.target: target},
                aggregate_id=actor,
            )
    return removed is not None


async def block(res: Resources, blocker_id: int, blocked_id: int) -> BlockResult:
    """Block (idempotent); removes the follows between the two, both ways."""
    return await _set(res, BLOCKS, blocker_id, blocked_id)


async def unblock(res: Resources, blocker_id: int, blocked_id: int) -> bool:
    """Lift a block; True if there was one. Follows removed by the block stay removed."""
    return await _unset(res, BLOCKS, blocker_id, blocked_id)


async def mute(res: Resources, muter_id: int, muted_id: int) -> bool:
    """Mute (idempotent); True if the mute is new."""
    return (await _set(res, MUTES, muter_id, muted_id)).changed


async def unmute(res: Resources, muter_id: int, muted_id: int) -> bool:
    return await _unset(res, MUTES, muter_id, muted_id)


async def _pages(
    res: Resources, relation: Relation, requests: Sequence[tuple[int, PageRequest]]
) -> list[Page[int]]:
    params = {
        "uids": [uid for uid, _ in requests],
        "afters": [r.after for _, r in requests],
        "limits": [r.first + 1 for _, r in requests],
    }
    async with res.db.session() as session:
        rows = (await session.execute(relation.pages(), params)).all()
    grouped: list[list[tuple[int, int]]] = [[] for _ in requests]
    for ord_, key, other in rows:
        grouped[ord_ - 1].append((key, other))
    return [page_from_rows(g, r) for g, (_, r) in zip(grouped, requests, strict=True)]


async def blocked_pages(
    res: Resources, requests: Sequence[tuple[int, PageRequest]]
) -> list[Page[int]]:
    """For each (user id, page request), a page of the ids that user blocks, newest first."""
    return await _pages(res, BLOCKS, requests)


async def muted_pages(
    res: Resources, requests: Sequence[tuple[int, PageRequest]]
) -> list[Page[int]]:
    """For each (user id, page request), a page of the ids that user mutes, newest first."""
    return await _pages(res, MUTES, requests)


async def _among(res: Resources, relation: Relation, actor: int, ids: Sequence[int]) -> list[bool]:
    async with res.db.session() as session:
        rows = (await session.execute(relation.among(), {"a": actor, "ids": list(set(ids))})).all()
    found = {r[0] for r in rows}
    return [i in found for i in ids]


async def viewer_blocks(res: Resources, viewer_id: int, ids: Sequence[int]) -> list[bool]:
    """Whether the viewer blocks each of `ids` (one statement)."""
    return await _among(res, BLOCKS, viewer_id, ids)


async def viewer_mutes(res: Resources, viewer_id: int, ids: Sequence[int]) -> list[bool]:
    """Whether the viewer mutes each of `ids` (one statement)."""
    return await _among(res, MUTES, viewer_id, ids)
