"""GraphQL types of the users subgraph. Thin: every field calls into resolvers.users."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

import strawberry

from puppies.pagination import Page, PageRequest
from resolvers.ids import try_parse_id
from resolvers.users.accounts import ProfileRow
from resolvers.users.loaders import UsersLoaders
from resolvers.users.oidc_accounts import identity_providers
from subgraphs.common import Connection, Info, connection_from_page, page_size
from subgraphs.common.payloads import UserError

if TYPE_CHECKING:
    from models.users import ApiKey as ApiKeyRow


UsersInfo = Info[UsersLoaders]


@strawberry.federation.type(keys=["id"], description="A Puppies account.")
class User:
    id: strawberry.ID
    username: str
    display_name: str
    bio: str
    created_at: datetime
    follower_count: int
    following_count: int
    _email: strawberry.Private[str]
    _role: strawberry.Private[str] = "user"
    _has_password: strawberry.Private[bool] = True

    @classmethod
    def from_row(cls, row: ProfileRow) -> User:
        """`_from_row`'s object, its fields set directly: the dataclass's keyword `__init__`
        costs twice as much, for each of a home feed page's 20 authors
        (tests/subgraphs/users/test_fast_users.py)."""
        user = cls.__new__(cls)
        user.id = strawberry.ID(str(row.id))
        user.username = row.username
        user.display_name = row.display_name
        user.bio = row.bio
        user.created_at = row.created_at
        user.follower_count = row.follower_count
        user.following_count = row.following_count
        user._email = row.email
        user._role = row.role
        user._has_password = row.password_hash is not None
        return user

    @classmethod
    def _from_row(cls, row: ProfileRow) -> User:
        """`from_row` through the constructor (what it must equal)."""
        return cls(
            id=strawberry.ID(str(row.id)),
            username=row.username,
            display_name=row.display_name,
            bio=row.bio,
            created_at=row.created_at,
            follower_count=row.follower_count,
            following_count=row.following_count,
            _email=row.email,
            _role=row.role,
            _has_password=row.password_hash is not None,
        )

    @classmethod
    async def resolve_reference(cls, info: UsersInfo, id: strawberry.ID) -> User | None:
        key = try_parse_id(id)
        if key is None:
            return None
        row = await info.context.loaders.user.load(key)
        return cls.from_row(row) if row else None

    @classmethod
    async def resolve_references(cls, info: UsersInfo, ids: list[object]) -> list[User | None]:
        """`resolve_reference` of each id, as one coroutine (SubgraphSchema.entities_resolver)."""
        keys = [try_parse_id(i) for i in ids]
        rows = iter(await info.context.loaders.users([k for k in keys if k is not None]))
        of = cls.from_row
        out: list[User | None] = []
        for key in keys:
            row = next(rows) if key is not None else None
            out.append(of(row) if row is not None else None)
        return out

    @strawberry.field(description="Only visible to the account itself.")
    def email(self, info: UsersInfo) -> str | None:
        return self._email if info.context.viewer.user_id == int(self.id) else None

    @strawberry.field(
        description="The account's role (user, moderator or admin). Only visible to the "
        "account itself."
    )
    def role(self, info: UsersInfo) -> Role | None:
        return Role(self._role) if info.context.viewer.user_id == int(self.id) else None

    @strawberry.field(
        description="Whether the account has a password (an account made by signing in with "
        "an OpenID Connect provider has none until one is set). Only visible to the account "
        "itself."
    )
    def has_password(self, info: UsersInfo) -> bool | None:
        return self._has_password if info.context.viewer.user_id == int(self.id) else None

    @strawberry.field(
        description="The OpenID Connect providers linked to the account (their names, as in "
        "oidcProviders). Only visible to the account itself."
    )
    async def identity_providers(self, info: UsersInfo) -> list[str] | None:
        if info.context.viewer.user_id != int(self.id):
            return None
        return await identity_providers(info.context.resources, int(self.id))

    @strawberry.field(
        description="Accounts following this one, most recent first.", directives=[page_size()]
    )
    async def followers(
        self, info: UsersInfo, first: int | None = None, after: str | None = None
    ) -> Connection[User]:
        return await _follow_page(
            info, "followers", int(self.id), first, after, self.follower_count
        )

    @strawberry.field(
        description="Accounts this one follows, most recent first.", directives=[page_size()]
    )
    async def following(
        self, info: UsersInfo, first: int | None = None, after: str | None = None
    ) -> Connection[User]:
        return await _follow_page(
            info, "following", int(self.id), first, after, self.following_count
        )

    @strawberry.field(
        description="Whether the viewer follows this account (false when logged out)."
    )
    async def viewer_follows(self, info: UsersInfo) -> bool:
        return await info.context.loaders.viewer_follows.load(int(self.id))

    @strawberry.field(description="Whether the viewer blocks this account (false when logged out).")
    async def viewer_blocks(self, info: UsersInfo) -> bool:
        return await info.context.loaders.viewer_blocks.load(int(self.id))

    @strawberry.field(description="Whether the viewer mutes this account (false when logged out).")
    async def viewer_mutes(self, info: UsersInfo) -> bool:
        return await info.context.loaders.viewer_mutes.load(int(self.id))


async def _follow_page(
    info: UsersInfo, which: str, user_id: int, first: int | None, after: str | None, total: int
) -> Connection[User]:
    ld = info.context.loaders
    request = PageRequest.build(info.context.settings, first, after)
    page = await getattr(ld, which).load((user_id, request))
    return await users_connection(info, page, total)


async def users_connection(
    info: UsersInfo, page: Page[int], total: int | None = None
) -> Connection[User]:
    """A page of user ids as a connection of users (one batched load for the nodes)."""
    ld = info.context.loaders
    rows = await ld.user.load_many(list(page.items))
    by_id: dict[int, Any] = {r.id: r for r in rows if r is not None}
    # An account deleted between the two statements is skipped, not a null in a list.
    kept = [(k, i) for k, i in zip(page.keys, page.items, strict=True) if i in by_id]
    page = type(page)(
        items=[i for _, i in kept],
        keys=[k for k, _ in kept],
        has_next_page=page.has_next_page,
        has_previous_page=page.has_previous_page,
    )
    return connection_from_page(page, lambda uid: User.from_row(by_id[uid]), total)


@strawberry.enum(
    description="What an account may do: a moderator what a user may and more, an admin what "
    "a moderator may and more."
)
class Role(Enum):
    USER = "user"
    MODERATOR = "moderator"
    ADMIN = "admin"


@strawberry.enum(description="An API key's tier, from its owner's plan.")
class ApiKeyTier(Enum):
    FREE = "free"
    PRO = "pro"
    ENTERPRISE = "enterprise"


@strawberry.type(description="A partner API key. The secret is shown only at creation.")
class ApiKey:
    id: strawberry.ID
    name: str
    prefix: str
    tier: ApiKeyTier
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None
    client: str | None = strawberry.field(
        description="The partner integration the key belongs to (its persisted-query "
        "safelist at the router); set by the platform's operators."
    )

    @classmethod
    def from_row(cls, row: ApiKeyRow) -> ApiKey:
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            prefix=row.prefix,
            tier=ApiKeyTier(row.tier),
            scopes=list(row.scopes),
            created_at=row.created_at,
            revoked_at=row.revoked_at,
            client=row.client,
        )


@strawberry.type
class AuthSession:
    access_token: str
    refresh_token: str
    access_token_expires_at: datetime
    refresh_token_expires_at: datetime
    user: User


@strawberry.type
class AuthPayload:
    session: AuthSession | None
    errors: list[UserError]


@strawberry.type
class FollowPayload:
    user: User = strawberry.field(description="The account followed or unfollowed.")
    viewer: User = strawberry.field(description="The viewer's account, counts updated.")
    changed: bool = strawberry.field(
        description="False when nothing changed (already followed / not followed)."
    )


@strawberry.type
class CreateApiKeyPayload:
    api_key: ApiKey | None
    key: str | None = strawberry.field(
        description="The secret key: store it now, it is never shown again."
    )
    errors: list[UserError]


@strawberry.input
class SignUpInput:
    username: str
    email: str
    password: str


@strawberry.input
class LogInInput:
    login: str = strawberry.field(description="A username or an email address.")
    password: str


@strawberry.input
class UpdateProfileInput:
    display_name: str | None = None
    bio: str | None = None


@strawberry.input
class CreateApiKeyInput:
    name: str
    scopes: list[str]
