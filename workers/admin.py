"""`puppies users ...`: what an operator does to accounts from the command line.

    puppies users set-role <username> admin     # e.g. the first admin of a new deployment

Also `puppies api-keys client KEY_ID NAME` (puppies/cli.py) runs `set_api_key_client`.

With DATABASE_URL and REDIS_URL unset it works on the `puppies dev` running on DATA_DIR.
"""

from __future__ import annotations

import asyncio

import click

from models.users import ROLES
from puppies.cli import _services_of_running_dev, _settings
from puppies.errors import PuppiesError
from puppies.settings import Settings
from resolvers.errors import ResolverError
from resolvers.runtime import Resources
from resolvers.users import accounts, roles
from resolvers.users.apikeys import set_api_key_client as assign


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


def set_api_key_client(settings: Settings, key_id: int, client: str | None) -> str:
    """Assign an API key to a client (None: to none); what it did, for the console."""

    async def run() -> str:
        res = Resources.open(settings)
        try:
            row = await assign(res, key_id, client)
        except ResolverError as exc:  # unknown key, bad client name: said on the console
            raise PuppiesError(str(exc)) from None
        finally:
            await res.close()
        return f"API key {row.id} ({row.prefix}) now belongs to " + (
            f"client {row.client!r}" if row.client else "no client"
        )

    return asyncio.run(run())
