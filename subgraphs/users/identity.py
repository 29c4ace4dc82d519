"""Sign in with OpenID Connect, and roles (docs/identity.md).

Merged into the users subgraph's Query and Mutation by subgraphs/users/schema.py."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from resolvers.errors import Forbidden
from resolvers.ids import parse_id
from resolvers.users import oidc_accounts, roles
from resolvers.users.oidc import OidcFailure, Purpose
from subgraphs.common.payloads import UserError
from subgraphs.users.types import AuthSession, Role, User, UsersInfo


@strawberry.type(description="An OpenID Connect provider users may sign in with.")
class OidcProvider:
    name: str = strawberry.field(description="What startOidcSignIn's provider takes.")
    display_name: str = strawberry.field(description="What to write on the button.")


@strawberry.enum
class OidcPurpose(Enum):
    SIGN_IN = "sign_in"
    CONFIRM = strawberry.enum_value(
        "confirm",
        description="Prove again who you are, to confirm deleteAccount: the provider asks "
        "for the password again; needs a logged-in session.",
    )


@strawberry.input
class StartOidcSignInInput:
    provider: str = strawberry.field(description="A name from oidcProviders.")
    redirect_uri: str = strawberry.field(
        description="Where the provider sends the user back with code and state: one of the "
        "server's OIDC_REDIRECT_URIS, exactly."
    )
    purpose: OidcPurpose = OidcPurpose.SIGN_IN


@strawberry.type
class OidcAuthorization:
    authorization_url: str = strawberry.field(description="Send the user here.")
    state: str = strawberry.field(
        description="Comes back on the redirect; give it to completeOidcSignIn."
    )
    expires_at: datetime = strawberry.field(description="Finish the sign-in before this.")


@strawberry.type
class StartOidcSignInPayload:
    authorization: OidcAuthorization | None
    errors: list[UserError]


@strawberry.input
class CompleteOidcSignInInput:
    state: str = strawberry.field(description="The state parameter of the redirect.")
    code: str = strawberry.field(description="The code parameter of the redirect.")


@strawberry.enum
class OidcSignInOutcome(Enum):
    SIGNED_IN = strawberry.enum_value("SIGNED_IN", description="The identity was already linked.")
    LINKED = strawberry.enum_value(
        "LINKED", description="Linked now to the account with its verified email address."
    )
    CREATED = strawberry.enum_value("CREATED", description="A new account was made.")


@strawberry.type
class OidcSignInPayload:
    session: AuthSession | None
    outcome: OidcSignInOutcome | None
    password_removed: bool = strawberry.field(
        description="The account linked by email had never proved its address, so its "
        "password was removed and its sessions and API keys ended (set a new password with "
        "requestPasswordReset)."
    )
    errors: list[UserError]


def _failure(failure: OidcFailure) -> list[UserError]:
    return [UserError(code=failure.code, field=failure.field, message=failure.message)]


@strawberry.type
class IdentityQuery:
    @strawberry.field(description="The OpenID Connect providers this server accepts.")
    def oidc_providers(self, info: UsersInfo) -> list[OidcProvider] | None:
        configured = info.context.settings.oidc_providers
        return [
            OidcProvider(name=name, display_name=p.display_name or name.capitalize())
            for name, p in sorted(configured.items())
        ]


@strawberry.type
class IdentityMutation:
    @strawberry.mutation(
        description="Begin signing in with an OpenID Connect provider (authorization code "
        "flow with PKCE): send the user to authorizationUrl, then call completeOidcSignIn "
        "with the code and state the provider redirects back with."
    )
    async def start_oidc_sign_in(
        self, info: UsersInfo, input: StartOidcSignInInput
    ) -> StartOidcSignInPayload | None:
        purpose = Purpose(input.purpose.value)
        viewer = info.context.viewer
        user_id = None
        if purpose is Purpose.CONFIRM:
            user_id = viewer.require_user()
            if viewer.kind != "user":
                raise Forbidden("an API key cannot confirm for its owner; use a session")
        try:
            made = await info.context.loaders.oidc.start(
                info.context.resources,
                input.provider,
                input.redirect_uri,
                purpose=purpose,
                user_id=user_id,
            )
        except OidcFailure as failure:
            return StartOidcSignInPayload(authorization=None, errors=_failure(failure))
        return StartOidcSignInPayload(
            authorization=OidcAuthorization(
                authorization_url=made.url, state=made.state, expires_at=made.expires_at
            ),
            errors=[],
        )

    @strawberry.mutation(
        description="Finish an OpenID Connect sign-in: exchange the code, verify the ID "
        "token, and start a session for the linked, matched (verified email) or new account."
    )
    async def complete_oidc_sign_in(
        self, info: UsersInfo, input: CompleteOidcSignInInput
    ) -> OidcSignInPayload | None:
        res = info.context.resources
        try:
            identity = await info.context.loaders.oidc.finish(res, input.state, input.code)
        except OidcFailure as failure:
            return _signed_in(oidc_accounts.OidcSignIn(), _failure(failure))
        if identity.purpose is not Purpose.SIGN_IN:
            return _signed_in(
                oidc_accounts.OidcSignIn(),
                [
                    UserError(
                        code="OIDC_STATE_INVALID",
                        field="state",
                        message="this flow was started to confirm an action (purpose "
                        "CONFIRM); give its code and state to deleteAccount",
                    )
                ],
            )
        result = await oidc_accounts.sign_in(res, info.context.loaders.keyring, identity)
        errors = [UserError(code=e.code, field=e.field, message=e.message) for e in result.errors]
        return _signed_in(result, errors)

    @strawberry.federation.mutation(
        description="Give an account a role (admins only; not your own).",
        policy=[["admin"]],
    )
    async def set_user_role(
        self, info: UsersInfo, user_id: strawberry.ID, role: Role
    ) -> User | None:
        viewer = info.context.viewer
        actor = viewer.require_user()
        if viewer.kind != "user":
            raise Forbidden("API keys cannot change roles; use a session")
        target = parse_id(user_id, "userId")
        row = await roles.set_role(info.context.resources, target, role.value, actor_id=actor)
        info.context.loaders.forget_user(target)
        return User.from_row(row)


def _signed_in(result: oidc_accounts.OidcSignIn, errors: list[UserError]) -> OidcSignInPayload:
    s = result.session
    return OidcSignInPayload(
        session=AuthSession(
            access_token=s.access_token,
            refresh_token=s.refresh_token,
            access_token_expires_at=s.access_token_expires_at,
            refresh_token_expires_at=s.refresh_token_expires_at,
            user=User.from_row(s.user),
        )
        if s
        else None,
        outcome=OidcSignInOutcome(result.outcome.value) if result.outcome else None,
        password_removed=result.password_removed,
        errors=errors,
    )
