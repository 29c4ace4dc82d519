"""Query and Mutation of the users subgraph."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import strawberry
from strawberry.tools import merge_types

from puppies.auth import AuthError
from resolvers.errors import NotFound
from resolvers.ids import parse_id
from resolvers.runtime import Resources
from resolvers.users import accounts, apikeys, follows, sessions
from resolvers.users.accounts import AuthResult
from subgraphs.common import build_schema
from subgraphs.users.caller import client_ip, session_user
from subgraphs.users.identity import IdentityMutation, IdentityQuery
from subgraphs.users.notifications import (
    Comment,
    NotificationsMutation,
    NotificationsQuery,
    NotificationsSubscription,
    Post,
)
from subgraphs.users.privacy import PrivacyMutation, PrivacyQuery
from subgraphs.users.recovery import RecoveryMutation
from subgraphs.users.relations import RelationsMutation, RelationsQuery
from subgraphs.users.types import (
    ApiKey,
    AuthPayload,
    AuthSession,
    CreateApiKeyInput,
    CreateApiKeyPayload,
    FollowPayload,
    LogInInput,
    SignUpInput,
    UpdateProfileInput,
    User,
    UserError,
    UsersInfo,
)


def _payload(result: AuthResult) -> AuthPayload:
    s = result.session
    return AuthPayload(
        session=AuthSession(
            access_token=s.access_token,
            refresh_token=s.refresh_token,
            access_token_expires_at=s.access_token_expires_at,
            refresh_token_expires_at=s.refresh_token_expires_at,
            user=User.from_row(s.user),
        )
        if s
        else None,
        errors=[UserError(code=e.code, field=e.field, message=e.message) for e in result.errors],
    )


def _session_payload(s: sessions.Session) -> AuthPayload:
    return _payload(AuthResult(session=s))


async def _load_user(info: UsersInfo, user_id: int) -> User | None:
    row = await info.context.loaders.user.load(user_id)
    return User.from_row(row) if row else None


@strawberry.type
class Query:
    @strawberry.field(description="The logged-in account (null when logged out).")
    async def me(self, info: UsersInfo) -> User | None:
        viewer = info.context.viewer
        if viewer.user_id is None:
            return None
        viewer.require_scope("read:profile")
        return await _load_user(info, viewer.user_id)

    @strawberry.field
    async def user(self, info: UsersInfo, id: strawberry.ID) -> User | None:
        return await _load_user(info, parse_id(id, "id"))

    @strawberry.field
    async def user_by_username(self, info: UsersInfo, username: str) -> User | None:
        user_id = await accounts.user_id_by_username(info.context.resources, username)
        return await _load_user(info, user_id) if user_id else None

    @strawberry.federation.field(
        description="The viewer's API keys, newest first.", policy=[["session"]]
    )
    async def api_keys(self, info: UsersInfo) -> list[ApiKey] | None:
        rows = await apikeys.list_api_keys(info.context.resources, session_user(info))
        return [ApiKey.from_row(r) for r in rows]


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create an account and start a session.")
    async def sign_up(self, info: UsersInfo, input: SignUpInput) -> AuthPayload:
        ld = info.context.loaders
        return _payload(
            await accounts.sign_up(
                info.context.resources,
                ld.keyring,
                username=input.username,
                email=input.email,
                password=input.password,
            )
        )

    @strawberry.mutation(
        description="Start a session with a username or email and password. "
        "Failed attempts are throttled per account and per IP."
    )
    async def log_in(self, info: UsersInfo, input: LogInInput) -> AuthPayload:
        ld = info.context.loaders
        result = await accounts.log_in(
            info.context.resources,
            ld.keyring,
            login=input.login,
            password=input.password,
            ip=client_ip(info),
        )
        if result.retry_after is not None:  # the client gets Retry-After through the router
            info.context.response_extensions["retryAfter"] = result.retry_after
        return _payload(result)

    @strawberry.mutation(
        description="Trade a refresh token for a new session (rotation). "
        "Reusing a rotated token revokes its whole family."
    )
    async def refresh_session(self, info: UsersInfo, refresh_token: str) -> AuthPayload:
        ld = info.context.loaders
        return _session_payload(
            await sessions.refresh_session(info.context.resources, ld.keyring, refresh_token)
        )

    @strawberry.mutation(
        description="End the session of this refresh token. False when it had already ended."
    )
    async def log_out(self, info: UsersInfo, refresh_token: str) -> bool:
        return await sessions.end_session(info.context.resources, refresh_token)

    @strawberry.federation.mutation(requires_scopes=[["write:profile"]])
    async def update_profile(self, info: UsersInfo, input: UpdateProfileInput) -> User | None:
        user_id = info.context.viewer.require_scope("write:profile")
        row = await accounts.update_profile(
            info.context.resources, user_id, display_name=input.display_name, bio=input.bio
        )
        info.context.loaders.forget_user(user_id)
        return User.from_row(row)

    @strawberry.federation.mutation(
        description="Follow an account (idempotent).", requires_scopes=[["write:follows"]]
    )
    async def follow(self, info: UsersInfo, user_id: strawberry.ID) -> FollowPayload | None:
        return await _follow(info, user_id, follows.follow)

    @strawberry.federation.mutation(
        description="Stop following an account (idempotent).",
        requires_scopes=[["write:follows"]],
    )
    async def unfollow(self, info: UsersInfo, user_id: strawberry.ID) -> FollowPayload | None:
        return await _follow(info, user_id, follows.unfollow)

    @strawberry.federation.mutation(
        description="Create an API key; the secret is in the payload once.", policy=[["session"]]
    )
    async def create_api_key(
        self, info: UsersInfo, input: CreateApiKeyInput
    ) -> CreateApiKeyPayload | None:
        created = await apikeys.create_api_key(
            info.context.resources, session_user(info), name=input.name, scopes=input.scopes
        )
        return CreateApiKeyPayload(api_key=ApiKey.from_row(created.row), key=created.key, errors=[])

    @strawberry.federation.mutation(
        description="Revoke one of your API keys (idempotent).", policy=[["session"]]
    )
    async def revoke_api_key(self, info: UsersInfo, id: strawberry.ID) -> ApiKey | None:
        key_id = parse_id(id, "id")
        return ApiKey.from_row(
            await apikeys.revoke_api_key(info.context.resources, session_user(info), key_id)
        )


FollowChange = Callable[[Resources, int, int], Awaitable[bool]]


async def _follow(info: UsersInfo, raw_id: strawberry.ID, change: FollowChange) -> FollowPayload:
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
    return FollowPayload(user=User.from_row(user), viewer=User.from_row(me), changed=changed)


schema = build_schema(
    merge_types("Query", (Query, IdentityQuery, PrivacyQuery, RelationsQuery, NotificationsQuery)),
    merge_types(
        "Mutation",
        (
            Mutation,
            IdentityMutation,
            PrivacyMutation,
            RelationsMutation,
            RecoveryMutation,
            NotificationsMutation,
        ),
    ),
    subscription=NotificationsSubscription,
    types=[User, Post, Comment],
)
