"""Accounts: sign up, log in (throttled), profile updates, lookups."""

from __future__ import annotations

import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import BigInteger, Text, any_, bindparam, cast, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert

from models.outbox import emit
from models.users import SCHEMA, User
from puppies.auth.keys import KeyRing
from resolvers.errors import BadInput
from resolvers.runtime import Resources
from resolvers.users import throttle, validation
from resolvers.users.passwords import (
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from resolvers.users.sessions import Session, start_session


@dataclass(frozen=True)
class FieldError:
    code: str
    message: str
    field: str | None = None


DISABLED = FieldError("ACCOUNT_DISABLED", "this account is being deleted; it can no longer be used")


@dataclass
class AuthResult:
    session: Session | None = None
    errors: list[FieldError] = field(default_factory=list)
    retry_after: int | None = None  # seconds, when the log-in throttle refused


async def sign_up(
    res: Resources, keyring: KeyRing, *, username: str, email: str, password: str
) -> AuthResult:
    username = validation.username(username)
    email = validation.email(email)
    problem = password_problem(password, username=username, email=email)
    if problem:
        return AuthResult(errors=[FieldError("WEAK_PASSWORD", problem, "password")])
    taken = await _taken(res, username, email)
    if taken:
        return AuthResult(errors=taken)
    password_hash = await hash_password(password)
    async with res.db.transaction() as session:
        user = (
            await session.execute(
                pg_insert(User)
                .values(
                    username=username,
                    email=email,
                    password_hash=password_hash,
                    display_name=username,
                )
                .on_conflict_do_nothing()
                .returning(User)
            )
        ).scalar_one_or_none()
        if user is None:  # lost a race for the name or the address; nothing was written
            return AuthResult(errors=await _taken(res, username, email))
        await emit(
            session,
            SCHEMA,
            "user.created",
            {"user_id": user.id, "username": user.username},
            aggregate_id=user.id,
        )
        return AuthResult(session=await start_session(session, res, keyring, user))


async def _taken(res: Resources, username: str, email: str) -> list[FieldError]:
    async with res.db.session() as session:
        rows = (
            await session.execute(
                select(func.lower(User.username), func.lower(User.email)).where(
                    or_(
                        func.lower(User.username) == username.lower(),
                        func.lower(User.email) == email.lower(),
                    )
                )
            )
        ).all()
    errors = []
    if any(r[0] == username.lower() for r in rows):
        errors.append(
            FieldError("USERNAME_TAKEN", f"the username {username!r} is taken", "username")
        )
    if any(r[1] == email.lower() for r in rows):
        errors.append(FieldError("EMAIL_TAKEN", "an account already uses this email", "email"))
    return errors


async def log_in(
    res: Resources, keyring: KeyRing, *, login: str, password: str, ip: str | None
) -> AuthResult:
    login = login.strip()
    if not login:
        raise BadInput("give a username or an email", field="login")
    if not password:
        raise BadInput("give a password", field="password")
    async with res.db.session() as session:
        user = (
            (
                await session.execute(
                    select(User).where(
                        or_(
                            func.lower(User.username) == login.lower(),
                            func.lower(User.email) == login.lower(),
                        )
                    )
                )
            )
            .scalars()
            .first()
        )
    account = f"user:{user.id}" if user else f"login:{login.lower()}"
    limited = await throttle.check(res.redis, res.settings, account, ip)
    if limited:
        return AuthResult(
            errors=[
                FieldError(
                    "RATE_LIMITED",
                    f"too many failed log-ins for this {limited.scope}; try again in "
                    f"{limited.retry_after} seconds",
                )
            ],
            retry_after=limited.retry_after,
        )
    # Always one argon2 verification (a dummy hash when no account matches): the time taken
    # does not tell whether the account exists.
    verified = await verify_password(user.password_hash if user else None, password)
    if user is None or not verified:
        await throttle.record_failure(res.redis, res.settings, account, ip)
        return AuthResult(
            errors=[FieldError("INVALID_CREDENTIALS", "the login or the password is wrong")]
        )
    await throttle.record_success(res.redis, account)
    if user.disabled_at is not None:
        return AuthResult(errors=[DISABLED])
    async with res.db.transaction() as session:
        if user.password_hash is not None and needs_rehash(user.password_hash):
            await session.execute(
                update(User)
                .where(User.id == user.id)
                .values(password_hash=await hash_password(password))
            )
        return AuthResult(session=await start_session(session, res, keyring, user))


async def update_profile(
    res: Resources, user_id: int, *, display_name: str | None, bio: str | None
) -> User:
    values: dict[str, object] = {}
    if display_name is not None:
        values["display_name"] = validation.display_name(display_name)
    if bio is not None:
        values["bio"] = validation.bio(bio)
    async with res.db.transaction() as session:
        if not values:
            return (await session.execute(select(User).where(User.id == user_id))).scalar_one()
        user = (
            await session.execute(
                update(User)
                .where(User.id == user_id)
                .values(**values, updated_at=func.now())
                .returning(User)
            )
        ).scalar_one()
        await emit(
            session,
            SCHEMA,
            "user.updated",
            {"user_id": user_id, "fields": sorted(values)},
            aggregate_id=user_id,
        )
        return user


class ProfileRow(Protocol):
    """What `users_by_ids` gives per account: a row with these of `User`'s columns."""

    id: int
    username: str
    email: str
    password_hash: str | None
    role: str
    display_name: str
    bio: str
    follower_count: int
    following_count: int
    created_at: datetime


async def users_by_ids(res: Resources, ids: Sequence[int]) -> list[ProfileRow | None]:
    """Users in the order of `ids` (None where missing): one statement, rows (no ORM
    objects: a page of 20 authors is read on every home feed page)."""
    rows = await res.db.rows(_USERS_BY_IDS, {"ids": list(set(ids))})
    by_id = {r.id: typing.cast(ProfileRow, r) for r in rows}
    return [by_id.get(i) for i in ids]


_USERS_BY_IDS = text(
    "SELECT id, username, email, password_hash, role, display_name, bio, follower_count, "
    "following_count, created_at FROM users.users WHERE id = ANY(:ids)"
).bindparams(bindparam("ids", type_=ARRAY(BigInteger)))


_EXISTING_IDS = text("SELECT id FROM users.users WHERE id = ANY(:ids)").bindparams(
    bindparam("ids", type_=ARRAY(BigInteger))
)


async def existing_user_ids(res: Resources, ids: Sequence[int]) -> set[int]:
    """Which of `ids` are accounts. For other domains checking references (analytics'
    events, once per batch); one statement (autocommit, the ids as one array)."""
    if not ids:
        return set()
    async with res.db.engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        rows = await auto.execute(_EXISTING_IDS, {"ids": list(set(ids))})
    return {int(r[0]) for r in rows}


async def user_id_by_username(res: Resources, username: str) -> int | None:
    async with res.db.read() as session:
        return (
            await session.execute(
                select(User.id).where(func.lower(User.username) == username.strip().lower())
            )
        ).scalar_one_or_none()


async def user_ids_by_usernames(res: Resources, usernames: Sequence[str]) -> list[int | None]:
    """Ids in the order of `usernames` (None where missing): one statement."""
    lowered = [u.lower() for u in usernames]
    async with res.db.read() as session:
        rows = (
            await session.execute(
                select(func.lower(User.username), User.id).where(
                    func.lower(User.username) == any_(cast(lowered, ARRAY(Text)))
                )
            )
        ).all()
    by_name = {r[0]: r[1] for r in rows}
    return [by_name.get(u) for u in lowered]
