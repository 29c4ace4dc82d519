"""Roles: `user`, `moderator`, `admin`, one per account (docs/identity.md).

Roles are ordered: a moderator may do what a user may, an admin what a moderator may. The
access token carries the account's *effective* roles as a `roles` claim (an admin's token
says `["user", "moderator", "admin"]`), so the router's `@policy` rules need one condition
per role. The database stays the truth: `require_role` reads it, so a resolver re-checking a
role (defense in depth behind the router's directives) sees a demotion at once, while a
token issued before it keeps its old claim until it expires.
"""

from __future__ import annotations

from sqlalchemy import func, select, update

from models.outbox import emit
from models.users import ROLES, SCHEMA, User
from resolvers.errors import BadInput, Forbidden, NotFound
from resolvers.runtime import Resources


def effective_roles(role: str) -> list[str]:
    """The roles an account with `role` holds: its own and every role below it."""
    if role not in ROLES:
        return ["user"]
    return list(ROLES[: ROLES.index(role) + 1])


def check_role(value: str, field: str = "role") -> str:
    if value not in ROLES:
        raise BadInput(f"unknown role {value!r}; use one of {list(ROLES)}", field=field)
    return value


async def role_of(res: Resources, user_id: int) -> str | None:
    """The account's role; None when there is no such (live) account."""
    async with res.db.session() as session:
        row = (
            await session.execute(select(User.role, User.disabled_at).where(User.id == user_id))
        ).first()
    if row is None or row.disabled_at is not None:
        return None
    return str(row.role)


async def require_role(res: Resources, user_id: int, role: str) -> None:
    """Forbidden unless the account holds `role` (read from the database, not the token)."""
    current = await role_of(res, user_id)
    if current is None or role not in effective_roles(current):
        raise Forbidden(f"this needs the {role} role")


async def set_role(res: Resources, user_id: int, role: str, *, actor_id: int | None) -> User:
    """Give an account a role. `actor_id` is the admin doing it (None: an operator at the
    command line). An admin cannot change their own role, so the last admin cannot lock
    everyone out by accident."""
    role = check_role(role)
    if actor_id is not None:
        await require_role(res, actor_id, "admin")
        if actor_id == user_id:
            raise BadInput("you cannot change your own role", field="userId")
    async with res.db.transaction() as session:
        user = (
            await session.execute(
                update(User)
                .where(User.id == user_id, User.disabled_at.is_(None))
                .values(role=role, updated_at=func.now())
                .returning(User)
            )
        ).scalar_one_or_none()
        if user is None:
            raise NotFound(f"no user with id {user_id}", field="userId")
        await emit(
            session,
            SCHEMA,
            "user.role_changed",
            {"user_id": user_id, "role": role, "actor_id": actor_id},
            aggregate_id=user_id,
        )
        return user
