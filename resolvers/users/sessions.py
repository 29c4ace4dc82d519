"""Sessions: a short-lived access JWT plus an opaque, rotating refresh token.

Refresh tokens are `rt_<43 url-safe chars>`, stored as SHA-256 (they are random, so a fast
hash suffices). Each use rotates: the presented row gets `rotated_at`, a new row joins the
same family. Presenting a rotated token again means it leaked (or a client raced itself):
the whole family is revoked, so the thief's and the victim's tokens both stop working.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.users import RefreshToken, User
from puppies.auth.keys import KeyRing
from puppies.auth.tokens import issue_access_token
from resolvers.errors import Unauthenticated
from resolvers.runtime import Resources
from resolvers.users.roles import effective_roles

TOKEN_PREFIX = "rt_"


@dataclass(frozen=True)
class Session:
    access_token: str
    access_token_expires_at: datetime
    refresh_token: str
    refresh_token_expires_at: datetime
    user: User


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def _insert_refresh(
    session: AsyncSession, res: Resources, user_id: int, family_id: int | None
) -> tuple[str, datetime, int]:
    token = _new_token()
    expires = datetime.now(UTC) + timedelta(seconds=res.settings.refresh_token_ttl_seconds)
    if family_id is None:
        family_id = secrets.randbits(62) + 1  # a new family: a random 62-bit name
    await session.execute(
        insert(RefreshToken).values(
            user_id=user_id, family_id=family_id, token_hash=_hash(token), expires_at=expires
        )
    )
    return token, expires, family_id


async def start_session(
    session: AsyncSession, res: Resources, keyring: KeyRing, user: User
) -> Session:
    """Issue a new session (a new refresh family) inside the caller's transaction. The
    access token names the family as its `sid` claim."""
    refresh, refresh_exp, family = await _insert_refresh(session, res, user.id, None)
    access = issue_access_token(
        keyring, res.settings, user.id, roles=effective_roles(user.role), session_id=family
    )
    return Session(access.token, access.expires_at, refresh, refresh_exp, user)


async def revoke_sessions(
    session: AsyncSession, user_id: int, *, keep_family: int | None = None
) -> int:
    """Revoke every live refresh family of `user_id` but `keep_family`, in the caller's
    transaction; returns how many families were revoked. Access tokens already issued to
    them stay valid until they expire (ACCESS_TOKEN_TTL_SECONDS)."""
    conditions = [RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None)]
    if keep_family is not None:
        conditions.append(RefreshToken.family_id != keep_family)
    rows = (
        await session.execute(
            update(RefreshToken)
            .where(*conditions)
            .values(revoked_at=func.now())
            .returning(RefreshToken.family_id, RefreshToken.rotated_at, RefreshToken.expires_at)
        )
    ).all()
    now = datetime.now(UTC)
    # a family is a live session if it had an unrotated, unexpired token
    return len({r[0] for r in rows if r[1] is None and r[2] > now})


def _check_format(token: str) -> None:
    if not token.startswith(TOKEN_PREFIX) or not 20 <= len(token) <= 100:
        raise Unauthenticated("the refresh token is not valid; log in again", field="refreshToken")


async def refresh_session(res: Resources, keyring: KeyRing, token: str) -> Session:
    """Rotate `token`; reuse of a rotated token revokes its family. Unauthenticated on failure."""
    _check_format(token)
    reused_family: int | None = None
    async with res.db.transaction() as session:
        row = (
            await session.execute(
                select(RefreshToken)
                .where(RefreshToken.token_hash == _hash(token))
                .with_for_update()
            )
        ).scalar_one_or_none()
        if row is None or row.revoked_at is not None:
            raise Unauthenticated(
                "the refresh token is not valid; log in again", field="refreshToken"
            )
        if row.rotated_at is not None:
            reused_family = row.family_id
            await session.execute(
                update(RefreshToken)
                .where(RefreshToken.family_id == row.family_id, RefreshToken.revoked_at.is_(None))
                .values(revoked_at=func.now())
            )
        elif row.expires_at <= datetime.now(UTC):
            raise Unauthenticated(
                "the refresh token has expired; log in again", field="refreshToken"
            )
        else:
            user = (await session.execute(select(User).where(User.id == row.user_id))).scalar_one()
            if user.disabled_at is not None:
                raise Unauthenticated(
                    "this account is being deleted; it can no longer be used",
                    field="refreshToken",
                )
            row.rotated_at = datetime.now(UTC)
            new_token, new_exp, _ = await _insert_refresh(session, res, row.user_id, row.family_id)
            access = issue_access_token(
                keyring,
                res.settings,
                row.user_id,
                roles=effective_roles(user.role),
                session_id=row.family_id,
            )
            return Session(access.token, access.expires_at, new_token, new_exp, user)
    # Committed the revocation; now refuse.
    assert reused_family is not None
    raise Unauthenticated(
        "this refresh token was already used; every session of its family is revoked, log in again",
        field="refreshToken",
    )


async def end_session(res: Resources, token: str) -> bool:
    """Revoke the family of `token` (logging out that device). False if already revoked."""
    _check_format(token)
    async with res.db.transaction() as session:
        family = (
            await session.execute(
                select(RefreshToken.family_id).where(RefreshToken.token_hash == _hash(token))
            )
        ).scalar_one_or_none()
        if family is None:
            raise Unauthenticated("the refresh token is not valid", field="refreshToken")
        result = await session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=func.now())
            .returning(RefreshToken.id)
        )
        return len(result.all()) > 0
