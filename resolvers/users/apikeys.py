"""Partner API keys: created by a logged-in user (shown once), stored hashed, revocable.

A key carries its owner's plan as its tier and a subset of `puppies.auth.apikeys.SCOPES`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from redis.exceptions import RedisError
from sqlalchemy import func, insert, select, update

from models.outbox import emit
from models.users import SCHEMA, ApiKey, User
from puppies.auth.apikeys import (
    SCOPES,
    ApiKeyPrincipal,
    generate_api_key,
    parse_api_key,
    secret_matches,
)
from puppies.auth.errors import AuthError
from resolvers.errors import BadInput, NotFound
from resolvers.runtime import Resources
from resolvers.users import validation

log = logging.getLogger(__name__)

MAX_KEYS_PER_USER = 20


@dataclass(frozen=True)
class CreatedKey:
    key: str
    row: ApiKey


def _check(name: str, scopes: Sequence[str]) -> tuple[str, list[str]]:
    name = " ".join(name.split())
    if not name or len(name) > validation.MAX_KEY_NAME:
        raise BadInput(f"a key name is 1 to {validation.MAX_KEY_NAME} characters", field="name")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise BadInput(f"unknown scopes {unknown}; known: {list(SCOPES)}", field="scopes")
    if not scopes:
        raise BadInput("give at least one scope", field="scopes")
    return name, sorted(set(scopes))


async def create_api_key(
    res: Resources, user_id: int, *, name: str, scopes: Sequence[str]
) -> CreatedKey:
    name, scope_list = _check(name, scopes)
    new = generate_api_key()
    async with res.db.transaction() as session:
        plan, live = (
            await session.execute(
                select(
                    User.plan,
                    select(func.count())
                    .select_from(ApiKey)
                    .where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
                    .scalar_subquery(),
                )
                .where(User.id == user_id)
                .with_for_update(of=User)
            )
        ).one()
        if live >= MAX_KEYS_PER_USER:
            raise BadInput(
                f"at most {MAX_KEYS_PER_USER} live API keys; revoke one first", field="name"
            )
        row = (
            await session.execute(
                insert(ApiKey)
                .values(
                    user_id=user_id,
                    name=name,
                    prefix=new.prefix,
                    secret_hash=new.secret_hash,
                    tier=plan,
                    scopes=scope_list,
                )
                .returning(ApiKey)
            )
        ).scalar_one()
        await emit(
            session,
            SCHEMA,
            "api_key.created",
            {"api_key_id": row.id, "user_id": user_id, "tier": plan},
            aggregate_id=user_id,
        )
    return CreatedKey(new.key, row)


async def revoke_api_key(res: Resources, user_id: int, key_id: int) -> ApiKey:
    """Revoke a key; routers stop accepting it within a second (Redis pub/sub, published
    right after the commit and again by the worker from the outbox event)."""
    row = await _revoke(res, user_id, key_id)
    await publish_revocation(res, key_id)
    return row


async def publish_revocation(res: Resources, key_id: int) -> None:
    """Tell every router (pub/sub on `api_key_revocation_channel`) to forget this key.
    Best effort: when Redis is unreachable the worker's copy (or the router's cache
    lifetime) covers it."""
    try:
        await res.redis.publish(res.settings.api_key_revocation_channel, str(key_id))
    except (RedisError, OSError) as exc:
        log.warning("could not publish the revocation of API key %s: %s", key_id, exc)


async def _revoke(res: Resources, user_id: int, key_id: int) -> ApiKey:
    async with res.db.transaction() as session:
        row = (
            await session.execute(
                update(ApiKey)
                .where(ApiKey.id == key_id, ApiKey.user_id == user_id)
                .values(revoked_at=func.coalesce(ApiKey.revoked_at, func.now()))
                .returning(ApiKey)
            )
        ).scalar_one_or_none()
        if row is None:
            raise NotFound(f"you have no API key with id {key_id}", field="id")
        await emit(
            session,
            SCHEMA,
            "api_key.revoked",
            {"api_key_id": key_id, "user_id": user_id},
            aggregate_id=user_id,
        )
        return row


CLIENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


async def set_api_key_client(res: Resources, key_id: int, client: str | None) -> ApiKey:
    """Assign key ``key_id`` to ``client`` (None: to no client). An operator's act, not the
    key owner's: the client decides which persisted-query safelist the router applies.
    Routers forget the key at once (as on a revocation) and read the new client."""
    if client is not None and not CLIENT_NAME.match(client):
        raise BadInput(
            "a client name is 1 to 100 letters, digits, '_', '.' or '-', starting with a "
            "letter or digit",
            field="client",
        )
    async with res.db.transaction() as session:
        row = (
            await session.execute(
                update(ApiKey).where(ApiKey.id == key_id).values(client=client).returning(ApiKey)
            )
        ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"there is no API key with id {key_id}", field="id")
    await publish_revocation(res, key_id)
    return row


async def list_api_keys(res: Resources, user_id: int) -> list[ApiKey]:
    async with res.db.session() as session:
        return list(
            (
                await session.execute(
                    select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.id.desc())
                )
            ).scalars()
        )


async def verify_api_key(res: Resources, raw: str) -> ApiKeyPrincipal:
    """The principal behind a presented key; AuthError if unknown, wrong or revoked."""
    prefix, secret = parse_api_key(raw)
    async with res.db.session() as session:
        row = (
            await session.execute(select(ApiKey).where(ApiKey.prefix == prefix))
        ).scalar_one_or_none()
    if row is None or not secret_matches(secret, row.secret_hash):
        raise AuthError("the API key is not valid")
    if row.revoked_at is not None:
        raise AuthError("the API key has been revoked")
    return ApiKeyPrincipal(row.id, row.user_id, row.tier, frozenset(row.scopes), row.client)


class DatabaseApiKeyVerifier:
    """The users process checks keys against its own tables."""

    def __init__(self, res: Resources) -> None:
        self.res = res

    async def verify(self, raw: str) -> ApiKeyPrincipal:
        return await verify_api_key(self.res, raw)
