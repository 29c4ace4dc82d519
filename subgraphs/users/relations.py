"""Blocks, mutes and people search: the users subgraph's fields for them (docs/social.md).

Merged into the subgraph's Query and Mutation by subgraphs/users/schema.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import strawberry

from puppies.auth import AuthError
from puppies.pagination import KeysetRequest, PageRequest
from resolvers.errors import NotFound
from resolvers.ids import parse_id
from resolvers.runtime import Resources
from resolvers.users import blocks
from resolvers.users.search import search_users
from subgraphs.common import Connection, connection_from_page, page_size
from subgraphs.users.types import User, UsersInfo, users_connection

WRITE_FOLLOWS = [["write:follows"]]
SEARCH_KEYS = 3  # the searchUsers cursor: (rank, followers, id)


@strawberry.type(description="The result of a block, unblock, mute or unmute.")
class UserRelationPayload:
    user: User = strawberry.field(description="The account blocked, muted, or released.")
    changed: bool = strawberry.field(
        description="False when nothing changed (already blocked / not muted / ...)."
    )


Change = Callable[[Resources, int, int], Awaitable[bool]]


async def _block(res: Resources, viewer: int, target: int) -> bool:
    return (await blocks.block(res, viewer, target)).changed


async def _relate(info: UsersInfo, raw_id: strawberry.ID, change: Change) -> UserRelationPayload:
    viewer_id = info.context.viewer.require_scope("write:follows")
    target = parse_id(raw_id, "userId")
    changed = await change(info.context.resources, viewer_id, target)
    ld = info.context.loaders
    ld.forget_user(target)
    ld.forget_user(viewer_id)
    user, me = await ld.user.load_many([target, viewer_id])
    if user is None:
        raise NotFound(f"no user with id {target}", field="userId")
    if me is None:
        raise AuthError("your account no longer exists")
    return UserRelationPayload(user=User.from_row(user), changed=changed)


@strawberry.type
class RelationsQuery:
    @strawberry.field(
        description="Accounts by username prefix or display-name word prefix: the exact "
        "username first, then username prefixes, then display names; most followed first. "
        "Accounts that block the viewer are left out.",
        directives=[page_size()],
    )
    async def search_users(
        self, info: UsersInfo, query: str, first: int | None = None, after: str | None = None
    ) -> Connection[User] | None:
        request = KeysetRequest.build(info.context.settings, first, after, SEARCH_KEYS)
        page = await search_users(
            info.context.resources, query, request, info.context.viewer.user_id
        )
        for row in page.items:
            info.context.loaders.user.prime(row.id, row)
        return connection_from_page(page, User.from_row)

    @strawberry.federation.field(
        description="The accounts the viewer blocks, most recent block first.",
        authenticated=True,
        requires_scopes=[["read:profile"]],
        directives=[page_size()],
    )
    async def blocked_users(
        self, info: UsersInfo, first: int | None = None, after: str | None = None
    ) -> Connection[User] | None:
        viewer_id = info.context.viewer.require_scope("read:profile")
        request = PageRequest.build(info.context.settings, first, after)
        page = await info.context.loaders.blocked.load((viewer_id, request))
        return await users_connection(info, page)

    @strawberry.federation.field(
        description="The accounts the viewer mutes, most recent mute first.",
        authenticated=True,
        requires_scopes=[["read:profile"]],
        directives=[page_size()],
    )
    async def muted_users(
        self, info: UsersInfo, first: int | None = None, after: str | None = None
    ) -> Connection[User] | None:
        viewer_id = info.context.viewer.require_scope("read:profile")
        request = PageRequest.build(info.context.settings, first, after)
        page = await info.context.loaders.muted.load((viewer_id, request))
        return await users_connection(info, page)


@strawberry.type
class RelationsMutation:
    @strawberry.federation.mutation(
        requires_scopes=WRITE_FOLLOWS,
        description="Block an account (idempotent): neither of you sees the other's posts, "
        "comments or likes, neither can follow the other, and the follows between you "
        "are removed.",
    )
    async def block_user(
        self, info: UsersInfo, user_id: strawberry.ID
    ) -> UserRelationPayload | None:
        return await _relate(info, user_id, _block)

    @strawberry.federation.mutation(
        requires_scopes=WRITE_FOLLOWS,
        description="Lift a block (idempotent). Follows the block removed stay removed.",
    )
    async def unblock_user(
        self, info: UsersInfo, user_id: strawberry.ID
    ) -> UserRelationPayload | None:
        return await _relate(info, user_id, blocks.unblock)

    @strawberry.federation.mutation(
        requires_scopes=WRITE_FOLLOWS,
        description="Mute an account (idempotent): its posts leave your home feed and its "
        "actions stop notifying you. It is not told; follows stay.",
    )
    async def mute_user(
        self, info: UsersInfo, user_id: strawberry.ID
    ) -> UserRelationPayload | None:
        return await _relate(info, user_id, blocks.mute)

    @strawberry.federation.mutation(
        requires_scopes=WRITE_FOLLOWS, description="Unmute an account (idempotent)."
    )
    async def unmute_user(
        self, info: UsersInfo, user_id: strawberry.ID
    ) -> UserRelationPayload | None:
        return await _relate(info, user_id, blocks.unmute)
