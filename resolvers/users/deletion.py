"""Deleting an account (GDPR erasure), the users domain's bookkeeping (docs/privacy.md).

1. `request_deletion`: with the password (or a fresh OpenID Connect confirmation), in one
   transaction the account is disabled (`disabled_at`), its refresh tokens and API keys
   revoked, a row put in `account_deletions`, and `user.deletion_requested` emitted. Right
   after the commit its access tokens are revoked at every router (resolvers/users/
   revocation.py) and its API keys' revocations published, so nothing works for it from
   that moment: log-in, refresh, tokens, keys.
2. Each domain's worker consumes the event and erases what the domain holds
   (resolvers/privacy/erasure.py), then calls `domain_done`.
3. When every domain is done, `finish` checks that nothing names the user any more
   (every table rule, every object prefix) and removes the account's own rows: the
   `users` row and the `account_deletions` row. If something is left (a write that raced
   the erasure, an event not dispatched yet), the domains holding it run again
   (`rerun`). A deletion that stalls (a worker killed, retries exhausted) is resumed by
   the worker's periodic sweep (`stalled`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from models.outbox import emit
from models.users import SCHEMA, AccountDeletion, ApiKey, OidcIdentity, RefreshToken, User
from resolvers.errors import Forbidden, Unauthenticated
from resolvers.privacy import erasure, load
from resolvers.privacy.registry import Erase
from resolvers.privacy.tables import erase_rows
from resolvers.runtime import Resources
from resolvers.users import throttle
from resolvers.users.accounts import FieldError
from resolvers.users.apikeys import publish_revocation
from resolvers.users.oidc import Purpose, VerifiedIdentity
from resolvers.users.passwords import verify_password
from resolvers.users.revocation import revoke_subject

REQUESTED = "user.deletion_requested"


@dataclass
class DeletionRequest:
    requested_at: datetime | None = None
    errors: list[FieldError] | None = None


async def _confirmed(
    res: Resources, user: User, password: str | None, identity: VerifiedIdentity | None
) -> FieldError | None:
    """None when the caller proved again who they are, else what to fix."""
    if (password is None) == (identity is None):
        return FieldError(
            "CONFIRMATION_REQUIRED",
            "confirm with your password, or with a sign-in at a linked provider "
            "(startOidcSignIn with purpose CONFIRM), not both",
            "password",
        )
    if password is not None:
        account = f"user:{user.id}"
        limited = await throttle.check(res.redis, res.settings, account, None)
        if limited:
            return FieldError(
                "RATE_LIMITED",
                f"too many wrong passwords; try again in {limited.retry_after} seconds",
                "password",
            )
        if user.password_hash is None:
            return FieldError(
                "PASSWORD_NOT_SET",
                "this account has no password: confirm with a sign-in at a linked provider "
                "(startOidcSignIn with purpose CONFIRM)",
                "password",
            )
        if not await verify_password(user.password_hash, password):
            await throttle.record_failure(res.redis, res.settings, account, None)
            return FieldError("INVALID_CREDENTIALS", "the password is wrong", "password")
        return None
    assert identity is not None
    if identity.purpose is not Purpose.CONFIRM or identity.flow_user_id != user.id:
        return FieldError(
            "OIDC_STATE_INVALID",
            "this sign-in was not started to confirm for your account (startOidcSignIn "
            "with purpose CONFIRM, logged in as yourself)",
            "oidc",
        )
    async with res.db.session() as session:
        linked = (
            await session.execute(
                select(OidcIdentity.id).where(
                    OidcIdentity.user_id == user.id,
                    OidcIdentity.provider == identity.provider,
                    OidcIdentity.subject == identity.subject,
                )
            )
        ).first()
    if linked is None:
        return FieldError(
            "OIDC_IDENTITY_NOT_LINKED",
            f"you signed in at {identity.provider} as someone not linked to this account",
            "oidc",
        )
    return None


async def request_deletion(
    res: Resources,
    user_id: int,
    *,
    password: str | None = None,
    identity: VerifiedIdentity | None = None,
) -> DeletionRequest:
    async with res.db.session() as session:
        user = (await session.execute(select(User).where(User.id == user_id))).scalar_one_or_none()
    if user is None or user.disabled_at is not None:
        raise Unauthenticated("this account is gone or being deleted")
    problem = await _confirmed(res, user, password, identity)
    if problem is not None:
        return DeletionRequest(errors=[problem])
    async with res.db.transaction() as session:
        disabled = (
            await session.execute(
                update(User)
                .where(User.id == user_id, User.disabled_at.is_(None))
                .values(disabled_at=func.now())
                .returning(User.disabled_at)
            )
        ).scalar_one_or_none()
        if disabled is None:
            raise Unauthenticated("this account is being deleted already")
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=func.now())
        )
        keys = list(
            (
                await session.execute(
                    update(ApiKey)
                    .where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
                    .values(revoked_at=func.now())
                    .returning(ApiKey.id)
                )
            ).scalars()
        )
        for key_id in keys:
            await emit(
                session,
                SCHEMA,
                "api_key.revoked",
                {"api_key_id": key_id, "user_id": user_id},
                aggregate_id=user_id,
            )
        await session.execute(
            pg_insert(AccountDeletion).values(user_id=user_id).on_conflict_do_nothing()
        )
        await emit(session, SCHEMA, REQUESTED, {"user_id": user_id}, aggregate_id=user_id)
    await revoke_subject(res, user_id)
    for key_id in keys:
        await publish_revocation(res, key_id)
    return DeletionRequest(requested_at=disabled)


async def is_disabled(res: Resources, user_id: int) -> bool:
    async with res.db.session() as session:
        found = (await session.execute(select(User.disabled_at).where(User.id == user_id))).first()
    return found is None or found[0] is not None


async def pending(res: Resources, user_id: int, domain: str) -> bool:
    """True while the deletion of `user_id` waits for `domain`'s erasure."""
    async with res.db.session() as session:
        row = await session.get(AccountDeletion, user_id)
    return row is not None and domain not in row.done


async def domain_done(res: Resources, user_id: int, domain: str) -> bool:
    """Record that `domain` erased the user; True when every domain has."""
    async with res.db.transaction() as session:
        done = (
            await session.execute(
                text(
                    "UPDATE users.account_deletions SET done = ARRAY(SELECT DISTINCT d FROM "
                    "unnest(done || ARRAY[CAST(:d AS text)]) AS d ORDER BY d), "
                    "last_attempt_at = now() WHERE user_id = :u RETURNING done"
                ),
                {"u": user_id, "d": domain},
            )
        ).scalar_one_or_none()
    return done is not None and set(load().domains()) <= set(done)


@dataclass(frozen=True)
class Finished:
    state: str  # "deleted", "waiting" (something left: see `left`), "gone" (nothing to do)
    left: dict[str, int]


async def finish(res: Resources, user_id: int) -> Finished:
    """Remove the account's own rows once nothing else names the user."""
    async with res.db.session() as session:
        row = await session.get(AccountDeletion, user_id)
    if row is None:
        return Finished("gone", {})
    registry = load()
    users_outbox = registry.tables[f"{SCHEMA}.outbox"]
    await erase_rows(res, users_outbox, user_id)  # this deletion's own dispatched events
    left = await erasure.remaining(res, user_id)
    if left:
        async with res.db.transaction() as session:
            await session.execute(
                update(AccountDeletion)
                .where(AccountDeletion.user_id == user_id)
                .values(attempts=AccountDeletion.attempts + 1, last_attempt_at=func.now())
            )
        return Finished("waiting", left)
    async with res.db.transaction() as session:
        locked = (
            await session.execute(
                select(AccountDeletion.user_id)
                .where(AccountDeletion.user_id == user_id)
                .with_for_update()
            )
        ).first()
        if locked is None:
            return Finished("gone", {})
        for rule in registry.rules_of(SCHEMA):
            if rule.erase is Erase.FINAL:
                where = " OR ".join(f'"{c}" = :u' for c in rule.user_columns)
                await session.execute(
                    text(f"DELETE FROM {rule.table} WHERE {where}"), {"u": user_id}
                )
    return Finished("deleted", {})


def domains_of(left: dict[str, int]) -> set[str]:
    """The domains holding what `remaining` found (a table's schema, a prefix's domain)."""
    registry = load()
    found = set()
    for name in left:
        if name in registry.objects:
            found.add(registry.objects[name].domain)
        else:
            found.add(name.split(".", 1)[0])
    return found


async def rerun(res: Resources, user_id: int, domains: set[str]) -> None:
    """Run `domains`' erasure again (they are no longer counted done) with a new event."""
    async with res.db.transaction() as session:
        changed = (
            await session.execute(
                text(
                    "UPDATE users.account_deletions SET done = ARRAY(SELECT d FROM unnest(done) "
                    "AS d WHERE d <> ALL(CAST(:ds AS text[])) ORDER BY d), "
                    "last_attempt_at = now() WHERE user_id = :u RETURNING user_id"
                ),
                {"u": user_id, "ds": sorted(domains)},
            )
        ).first()
        if changed is not None:
            await emit(session, SCHEMA, REQUESTED, {"user_id": user_id}, aggregate_id=user_id)


async def stalled(res: Resources, older_than_seconds: float) -> list[AccountDeletion]:
    """Deletions with no progress for `older_than_seconds`."""
    async with res.db.session() as session:
        return list(
            (
                await session.execute(
                    select(AccountDeletion).where(
                        func.coalesce(AccountDeletion.last_attempt_at, AccountDeletion.requested_at)
                        < func.now() - text(f"interval '{float(older_than_seconds)} seconds'")
                    )
                )
            ).scalars()
        )


async def status(res: Resources, user_id: int) -> AccountDeletion | None:
    async with res.db.session() as session:
        return await session.get(AccountDeletion, user_id)


def require_session(kind: str) -> None:
    if kind != "user":
        raise Forbidden("an API key cannot delete its owner's account; use a session")
