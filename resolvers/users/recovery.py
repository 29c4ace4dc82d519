"""Changing and resetting passwords (docs/social.md, "Passwords").

- `change_password`: the current password (failures count against the log-in throttle),
  a new one that passes the strength rules; every other session is revoked, the caller's
  stays (its access token's `sid`).
- `request_password_reset`: the same answer, the same work and the same writes whether or
  not an account uses the address (no account enumeration): it only throttles (per address
  and per client IP) and writes a `password_reset.requested` outbox event carrying the
  address. The worker (`send_password_reset`) looks the account up, makes the token, stores
  its SHA-256 and mails the link; nothing is mailed when no account matches.
- `reset_password`: a token that exists, is unused and unexpired sets the new password,
  closes every open request of the account, revokes every session and starts a new one.

Tokens are `prt_<43 url-safe chars>` (256 random bits): a fast hash is enough to store
them, and guessing one is hopeless, so a wrong token needs no throttle.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from models.outbox import emit
from models.users import SCHEMA, PasswordReset, User
from puppies.auth.keys import KeyRing
from puppies.mail import Mail, Mailer
from puppies.settings import Settings
from resolvers.errors import BadInput
from resolvers.runtime import Resources
from resolvers.users import throttle, validation
from resolvers.users.accounts import AuthResult, FieldError
from resolvers.users.passwords import hash_password, password_problem, verify_password
from resolvers.users.sessions import revoke_sessions, start_session

TOKEN_PREFIX = "prt_"
INVALID_TOKEN = "this reset link is not valid: it was used, it expired, or a newer one was sent"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class ChangeResult:
    revoked_sessions: int = 0
    errors: list[FieldError] | None = None


async def change_password(
    res: Resources,
    user_id: int,
    *,
    current: str,
    new: str,
    keep_session: int | None,
    ip: str | None,
) -> ChangeResult:
    if not current:
        raise BadInput("give your current password", field="currentPassword")
    account = f"user:{user_id}"
    limited = await throttle.check(res.redis, res.settings, account, ip)
    if limited:
        return ChangeResult(
            errors=[
                FieldError(
                    "RATE_LIMITED",
                    f"too many wrong passwords for this {limited.scope}; try again in "
                    f"{limited.retry_after} seconds",
                )
            ]
        )
    async with res.db.session() as session:
        user = (await session.execute(select(User).where(User.id == user_id))).scalar_one()
    if not await verify_password(user.password_hash, current):
        await throttle.record_failure(res.redis, res.settings, account, ip)
        return ChangeResult(
            errors=[
                FieldError(
                    "INVALID_CREDENTIALS", "the current password is wrong", "currentPassword"
                )
            ]
        )
    problem = password_problem(new, username=user.username, email=user.email)
    if problem is None and new == current:
        problem = "choose a password different from the current one"
    if problem:
        return ChangeResult(errors=[FieldError("WEAK_PASSWORD", problem, "newPassword")])
    await throttle.record_success(res.redis, account)
    new_hash = await hash_password(new)
    async with res.db.transaction() as session:
        await session.execute(
            update(User)
            .where(User.id == user_id)
            .values(password_hash=new_hash, updated_at=func.now())
        )
        revoked = await revoke_sessions(session, user_id, keep_family=keep_session)
        await emit(
            session,
            SCHEMA,
            "user.password_changed",
            {"user_id": user_id, "via": "change", "revoked_sessions": revoked},
            aggregate_id=user_id,
        )
    return ChangeResult(revoked_sessions=revoked, errors=[])


# --- requesting a reset: the same for every address ----------------------------------


@dataclass(frozen=True)
class Limited:
    retry_after: int


async def _count_request(
    redis: Redis, settings: Settings, email: str, ip: str | None
) -> Limited | None:
    """Count this request against the address and the IP; Limited once either is over."""
    window = settings.password_reset_window_seconds
    keys = [(f"pwreset:addr:{email}", settings.password_reset_max_per_address)]
    if ip:
        keys.append((f"pwreset:ip:{ip}", settings.password_reset_max_per_ip))
    async with redis.pipeline(transaction=True) as pipe:
        for key, _ in keys:
            pipe.set(key, 0, ex=window, nx=True)
            pipe.incr(key)
            pipe.ttl(key)
        values = await pipe.execute()
    for i, (_, limit) in enumerate(keys):
        count, ttl = int(values[i * 3 + 1]), int(values[i * 3 + 2])
        if count > limit:
            return Limited(max(ttl, 1))
    return None


async def request_password_reset(res: Resources, email: str, ip: str | None) -> list[FieldError]:
    """Accept a reset request for `email`. The answer never says whether an account uses it."""
    address = validation.email(email)
    limited = await _count_request(res.redis, res.settings, address, ip)
    if limited:
        return [
            FieldError(
                "RATE_LIMITED",
                f"too many reset requests; try again in {limited.retry_after} seconds",
            )
        ]
    async with res.db.transaction() as session:
        await emit(session, SCHEMA, "password_reset.requested", {"email": address})
    return []


# --- the worker: make the token, store its hash, mail the link ------------------------


def reset_mail(settings: Settings, user: User, token: str) -> Mail:
    link = settings.password_reset_url.replace("{token}", token)
    minutes = settings.password_reset_ttl_seconds // 60
    return Mail(
        to=user.email,
        subject="Reset your Puppies password",
        text=(
            f"Hi {user.display_name or user.username},\n\n"
            "Someone (hopefully you) asked to reset the password of your Puppies account "
            f"@{user.username}. To choose a new one, open this link within {minutes} "
            f"minutes:\n\n{link}\n\n"
            f"Or give this reset token to the app: {token}\n\n"
            "The link works once. If you did not ask for it, ignore this mail: your "
            "password stays as it is.\n"
        ),
    )


async def send_password_reset(res: Resources, mailer: Mailer, request_id: str, email: str) -> str:
    """Handle one `password_reset.requested` event (at least once). Returns what happened:
    "no-account", "already-mailed" or "mailed".

    The reset row is keyed by the event (`request_id`). A redelivery after the mail went
    out finds `mailed_at` and does nothing; one that comes before (a crash between sending
    and marking) makes a new token, replacing the stored hash, and mails again: a request
    never has more than one working link."""
    async with res.db.session() as session:
        user = (
            await session.execute(select(User).where(func.lower(User.email) == email.lower()))
        ).scalar_one_or_none()
    if user is None:
        return "no-account"
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + timedelta(seconds=res.settings.password_reset_ttl_seconds)
    async with res.db.transaction() as session:
        row = (
            await session.execute(
                pg_insert(PasswordReset)
                .values(
                    user_id=user.id,
                    request_id=request_id,
                    token_hash=_hash(token),
                    expires_at=expires,
                )
                .on_conflict_do_update(
                    index_elements=[PasswordReset.request_id],
                    set_={"token_hash": _hash(token)},
                    where=PasswordReset.mailed_at.is_(None),
                )
                .returning(PasswordReset.id)
            )
        ).first()
    if row is None:
        return "already-mailed"
    await mailer.send(reset_mail(res.settings, user, token))
    async with res.db.transaction() as session:
        await session.execute(
            update(PasswordReset).where(PasswordReset.id == row[0]).values(mailed_at=func.now())
        )
    return "mailed"


def password_changed_mail(user: User, via: str) -> Mail:
    how = "with a reset link" if via == "reset" else "from a signed-in session"
    return Mail(
        to=user.email,
        subject="Your Puppies password was changed",
        text=(
            f"Hi {user.display_name or user.username},\n\n"
            f"The password of your Puppies account @{user.username} was just changed {how}, "
            "and your other sessions were signed out.\n\n"
            "If this was not you, reset your password now from the app's log-in screen, "
            "and check your account's API keys.\n"
        ),
    )


async def send_password_changed(res: Resources, mailer: Mailer, user_id: int, via: str) -> bool:
    """The security notice after a password change; False when the account is gone."""
    async with res.db.session() as session:
        user = (await session.execute(select(User).where(User.id == user_id))).scalar_one_or_none()
    if user is None:
        return False
    await mailer.send(password_changed_mail(user, via))
    return True


# --- using the token ------------------------------------------------------------------


async def reset_password(
    res: Resources, keyring: KeyRing, *, token: str, new_password: str
) -> AuthResult:
    invalid = AuthResult(errors=[FieldError("INVALID_TOKEN", INVALID_TOKEN, "token")])
    token = token.strip()
    if not token.startswith(TOKEN_PREFIX) or not 20 <= len(token) <= 100:
        return invalid
    async with res.db.session() as session:
        found = (
            await session.execute(
                select(PasswordReset, User)
                .join(User, User.id == PasswordReset.user_id)
                .where(PasswordReset.token_hash == _hash(token))
            )
        ).first()
    if found is None:
        return invalid
    reset, user = found
    if reset.used_at is not None or reset.expires_at <= datetime.now(UTC):
        return invalid
    problem = password_problem(new_password, username=user.username, email=user.email)
    if problem:
        return AuthResult(errors=[FieldError("WEAK_PASSWORD", problem, "newPassword")])
    new_hash = await hash_password(new_password)
    async with res.db.transaction() as session:
        # single use, decided under the row lock: of two concurrent resets one wins
        claimed = (
            await session.execute(
                update(PasswordReset)
                .where(
                    PasswordReset.id == reset.id,
                    PasswordReset.used_at.is_(None),
                    PasswordReset.token_hash == _hash(token),
                    PasswordReset.expires_at > func.now(),
                )
                .values(used_at=func.now())
                .returning(PasswordReset.id)
            )
        ).first()
        if claimed is None:
            return invalid
        await session.execute(
            update(PasswordReset)
            .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
            .values(used_at=func.now())
        )
        user = (
            await session.execute(
                update(User)
                .where(User.id == user.id)
                .values(password_hash=new_hash, updated_at=func.now())
                .returning(User)
            )
        ).scalar_one()
        revoked = await revoke_sessions(session, user.id)
        await emit(
            session,
            SCHEMA,
            "user.password_changed",
            {"user_id": user.id, "via": "reset", "revoked_sessions": revoked},
            aggregate_id=user.id,
        )
        result = AuthResult(session=await start_session(session, res, keyring, user))
    await throttle.record_success(res.redis, f"user:{user.id}")
    return result


async def purge_password_resets(res: Resources, older_than_hours: int = 24) -> int:
    """Delete reset rows expired or used more than `older_than_hours` ago."""
    cutoff = datetime.now(UTC) - timedelta(hours=older_than_hours)
    async with res.db.transaction() as session:
        result = await session.execute(
            delete(PasswordReset).where(
                (PasswordReset.expires_at < cutoff)
                | (PasswordReset.used_at.is_not(None) & (PasswordReset.used_at < cutoff))
            )
        )
    return int(getattr(result, "rowcount", 0) or 0)
