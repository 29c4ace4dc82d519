"""OpenID Connect sign-in, the account half: a verified identity becomes a session.

In order (docs/identity.md):
1. the identity (provider, subject) is linked to an account: that account signs in;
2. else, if the provider vouches for the email address (`email_verified`) and an account
   uses it: the identity is linked to that account. If that account's address was never
   vouched for, whoever made it may not own the address (someone can sign up with another
   person's email), so the confirmed owner takes the account over: its password is
   removed and its sessions and API keys end (`passwordRemoved` says so; a new password
   comes through requestPasswordReset);
3. else, with a verified address: a new account (a username made from the identity, no
   password);
4. an address that is not verified neither links nor creates: `EMAIL_NOT_VERIFIED`.

Every case ends in our own session, as a password log-in does.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models.outbox import emit
from models.users import SCHEMA, ApiKey, OidcIdentity, RefreshToken, User
from puppies.auth.keys import KeyRing
from resolvers.runtime import Resources
from resolvers.users.accounts import DISABLED, FieldError
from resolvers.users.oidc import VerifiedIdentity
from resolvers.users.sessions import Session, start_session
from resolvers.users.validation import RESERVED

USERNAME_CHARS = re.compile(r"[^A-Za-z0-9_]+")


class Outcome(StrEnum):
    SIGNED_IN = "SIGNED_IN"
    LINKED = "LINKED"
    CREATED = "CREATED"


@dataclass
class OidcSignIn:
    session: Session | None = None
    outcome: Outcome | None = None
    password_removed: bool = False
    errors: list[FieldError] = field(default_factory=list)


class _Retry(Exception):
    """Lost a race (the same identity or address made at the same moment): start over."""


def username_candidates(identity: VerifiedIdentity, tries: int = 8) -> list[str]:
    """Usernames to try for a new account: from the identity's preferred username, email
    or name, cleaned to 3-30 letters, digits and underscores; then with random digits."""
    seeds = [
        identity.preferred_username,
        identity.email.split("@", 1)[0] if identity.email else None,
        identity.name,
    ]
    base = ""
    for seed in seeds:
        if seed:
            base = USERNAME_CHARS.sub("_", seed).strip("_")[:23]  # + "_" + 6 digits <= 30
            if len(base) >= 3:
                break
    if len(base) < 3:
        base = "pup"
    out = [] if base.lower() in RESERVED else [base]
    while len(out) < tries:
        out.append(f"{base}_{secrets.randbelow(10**6):06d}")
    return out


async def sign_in(res: Resources, keyring: KeyRing, identity: VerifiedIdentity) -> OidcSignIn:
    link_by_email = res.settings.oidc_providers[identity.provider].link_by_email
    for _ in range(3):
        try:
            async with res.db.transaction() as session:
                return await _sign_in(session, res, keyring, identity, link_by_email)
        except (_Retry, IntegrityError):
            continue
    return OidcSignIn(
        errors=[FieldError("CONFLICT", "the account changed while signing in; try again")]
    )


async def _sign_in(
    session: AsyncSession,
    res: Resources,
    keyring: KeyRing,
    identity: VerifiedIdentity,
    link_by_email: bool,
) -> OidcSignIn:
    linked = (
        await session.execute(
            select(OidcIdentity, User)
            .join(User, User.id == OidcIdentity.user_id)
            .where(
                OidcIdentity.provider == identity.provider,
                OidcIdentity.subject == identity.subject,
            )
            .with_for_update(of=OidcIdentity)
        )
    ).first()
    if linked is not None:
        row, user = linked
        if user.disabled_at is not None:
            return OidcSignIn(errors=[DISABLED])
        row.last_used_at = func.now()
        row.email = identity.email
        return OidcSignIn(
            await start_session(session, res, keyring, user), outcome=Outcome.SIGNED_IN
        )
    if identity.email is None or not identity.email_verified:
        return OidcSignIn(
            errors=[
                FieldError(
                    "EMAIL_NOT_VERIFIED",
                    f"{identity.provider} did not confirm an email address for this "
                    "account, so it can neither join an existing account nor make one; "
                    "confirm your address there, or sign up with a password",
                )
            ]
        )
    owner = (
        await session.execute(
            select(User).where(func.lower(User.email) == identity.email).with_for_update()
        )
    ).scalar_one_or_none()
    if owner is not None:
        return await _link(session, res, keyring, identity, owner, link_by_email)
    return await _create(session, res, keyring, identity)


async def _add_identity(session: AsyncSession, identity: VerifiedIdentity, user_id: int) -> None:
    made = (
        await session.execute(
            pg_insert(OidcIdentity)
            .values(
                user_id=user_id,
                provider=identity.provider,
                issuer=identity.issuer,
                subject=identity.subject,
                email=identity.email,
            )
            .on_conflict_do_nothing()
            .returning(OidcIdentity.id)
        )
    ).scalar_one_or_none()
    if made is None:
        raise _Retry  # linked by a concurrent sign-in: the next round signs in


async def _link(
    session: AsyncSession,
    res: Resources,
    keyring: KeyRing,
    identity: VerifiedIdentity,
    user: User,
    link_by_email: bool,
) -> OidcSignIn:
    if user.disabled_at is not None:
        return OidcSignIn(errors=[DISABLED])
    if not link_by_email:
        return OidcSignIn(
            errors=[
                FieldError(
                    "EMAIL_TAKEN",
                    "an account already uses this email; log in with its password",
                    "email",
                )
            ]
        )
    password_removed = False
    if user.email_verified_at is None:
        password_removed = user.password_hash is not None
        user.password_hash = None
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=func.now())
        )
        revoked = (
            await session.execute(
                update(ApiKey)
                .where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))
                .values(revoked_at=func.now())
                .returning(ApiKey.id)
            )
        ).scalars()
        for key_id in revoked:
            await emit(
                session,
                SCHEMA,
                "api_key.revoked",
                {"api_key_id": key_id, "user_id": user.id},
                aggregate_id=user.id,
            )
    user.email_verified_at = func.now()
    await _add_identity(session, identity, user.id)
    await emit(
        session,
        SCHEMA,
        "user.identity_linked",
        {"user_id": user.id, "provider": identity.provider},
        aggregate_id=user.id,
    )
    await session.flush()
    await session.refresh(user)
    return OidcSignIn(
        await start_session(session, res, keyring, user),
        outcome=Outcome.LINKED,
        password_removed=password_removed,
    )


async def _create(
    session: AsyncSession, res: Resources, keyring: KeyRing, identity: VerifiedIdentity
) -> OidcSignIn:
    assert identity.email is not None
    user: User | None = None
    for username in username_candidates(identity):
        user = (
            await session.execute(
                pg_insert(User)
                .values(
                    username=username,
                    email=identity.email,
                    password_hash=None,
                    display_name=" ".join((identity.name or username).split())[:50],
                    email_verified_at=func.now(),
                )
                .on_conflict_do_nothing()
                .returning(User)
            )
        ).scalar_one_or_none()
        if user is not None:
            break
        taken = (
            await session.execute(select(User.id).where(func.lower(User.email) == identity.email))
        ).first()
        if taken is not None:
            raise _Retry  # the address was taken meanwhile: the next round links to it
    if user is None:
        return OidcSignIn(
            errors=[FieldError("CONFLICT", "could not find a free username; try again")]
        )
    await _add_identity(session, identity, user.id)
    await emit(
        session,
        SCHEMA,
        "user.created",
        {"user_id": user.id, "username": user.username},
        aggregate_id=user.id,
    )
    return OidcSignIn(await start_session(session, res, keyring, user), outcome=Outcome.CREATED)


async def identity_providers(res: Resources, user_id: int) -> list[str]:
    """The providers linked to an account, by name."""
    async with res.db.session() as session:
        rows = await session.execute(
            select(OidcIdentity.provider)
            .where(OidcIdentity.user_id == user_id)
            .order_by(OidcIdentity.provider)
            .distinct()
        )
        return [str(r) for r in rows.scalars()]
