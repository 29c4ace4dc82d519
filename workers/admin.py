"""`puppies users ...`: what an operator does to accounts from the command line.

    puppies users set-role <username> admin     # e.g. the first admin of a new deployment

With DATABASE_URL and REDIS_URL unset it works on the `puppies dev` running on DATA_DIR.
"""

from __future__ import annotations

import asyncio

import click

from models.users import ROLES
from puppies.cli import _services_of_running_dev, _settings
from puppies.settings import Settings
from resolvers.errors import ResolverError
from resolvers.runtime import Resources
from resolvers.users import accounts, roles


@click.group("users")
def users_cli() -> None:
    """Accounts, from the command line (operators)."""


async def _set_role(settings: Settings, username: str, role: str) -> str:
    res = Resources.open(settings)
    try:
        user_id = await accounts.user_id_by_username(res, username)
        if user_id is None:
            raise click.ClickException(f"no account named {username!r}")
        try:
            user = await roles.set_role(res, user_id, role, actor_id=None)
        except ResolverError as exc:
            raise click.ClickException(exc.message) from None
        return f"{user.username} (id {user.id}) is now {user.role}"
    finally:
        await res.close()


@users_cli.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(ROLES))
def set_role_command(username: str, role: str) -> None:
    """Give the account USERNAME the role ROLE (user, moderator or admin). It shows in the
    account's next access token (log in again or refresh); resolvers see it at once."""
    settings = _services_of_running_dev(_settings(), needed=("DATABASE_URL", "REDIS_URL"))
    click.echo(asyncio.run(_set_role(settings, username, role)))
