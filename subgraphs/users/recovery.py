"""changePassword, requestPasswordReset, resetPassword (docs/social.md, "Passwords").

Merged into the users subgraph's Mutation by subgraphs/users/schema.py."""

from __future__ import annotations

import strawberry

from resolvers.users import recovery
from resolvers.users.accounts import AuthResult
from subgraphs.common.payloads import UserError
from subgraphs.users.caller import client_ip, session_user
from subgraphs.users.types import AuthPayload, AuthSession, User, UsersInfo

RESET_ACCEPTED = (
    "If an account uses this address, a link to choose a new password is on its way. "
    "It works once, for a limited time."
)


@strawberry.input
class ChangePasswordInput:
    current_password: str
    new_password: str


@strawberry.type
class ChangePasswordPayload:
    revoked_sessions: int = strawberry.field(
        description="Other sessions signed out (their refresh tokens stop working at once; "
        "access tokens already issued to them expire within ACCESS_TOKEN_TTL_SECONDS)."
    )
    errors: list[UserError]


@strawberry.type
class RequestPasswordResetPayload:
    message: str = strawberry.field(
        description="The same whether or not an account uses the address."
    )
    errors: list[UserError]


@strawberry.input
class ResetPasswordInput:
    token: str = strawberry.field(description="The token from the reset mail's link.")
    new_password: str


def _errors(errors: list[recovery.FieldError] | None) -> list[UserError]:
    return [UserError(code=e.code, field=e.field, message=e.message) for e in errors or []]


def _auth_payload(result: AuthResult) -> AuthPayload:
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
        errors=_errors(result.errors),
    )


@strawberry.type
class RecoveryMutation:
    @strawberry.federation.mutation(
        policy=[["session"]],
        description="Change your password (a signed-in session, not an API key): your other "
        "sessions are signed out, this one stays. Wrong current passwords count against the "
        "log-in throttle.",
    )
    async def change_password(
        self, info: UsersInfo, input: ChangePasswordInput
    ) -> ChangePasswordPayload | None:
        user_id = session_user(info, "change the password")
        result = await recovery.change_password(
            info.context.resources,
            user_id,
            current=input.current_password,
            new=input.new_password,
            keep_session=info.context.viewer.session_id,
            ip=client_ip(info),
        )
        return ChangePasswordPayload(
            revoked_sessions=result.revoked_sessions, errors=_errors(result.errors)
        )

    @strawberry.mutation(
        description="Mail a one-time password-reset link to this address, if an account "
        "uses it. The answer is the same either way."
    )
    async def request_password_reset(
        self, info: UsersInfo, email: str
    ) -> RequestPasswordResetPayload:
        errors = await recovery.request_password_reset(
            info.context.resources, email, client_ip(info)
        )
        return RequestPasswordResetPayload(message=RESET_ACCEPTED, errors=_errors(errors))

    @strawberry.mutation(
        description="Set a new password with a reset token (once). Every session of the "
        "account is signed out and a new one starts."
    )
    async def reset_password(self, info: UsersInfo, input: ResetPasswordInput) -> AuthPayload:
        return _auth_payload(
            await recovery.reset_password(
                info.context.resources,
                info.context.loaders.keyring,
                token=input.token,
                new_password=input.new_password,
            )
        )
