"""The `puppies` command line.

Upper-layer code (subgraphs, router, workers, seed) is loaded by import string, so this
module stays at the bottom of the dependency graph.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from puppies import components
from puppies.errors import PuppiesError
from puppies.settings import Settings, load_settings

SERVABLE = ["router", *components.SUBGRAPH_APPS]


def _settings() -> Settings:
    try:
        return load_settings()
    except PuppiesError as exc:
        raise click.ClickException(str(exc)) from None


def _require_services(settings: Settings) -> None:
    try:
        settings.require_services()
    except PuppiesError as exc:
        raise click.ClickException(str(exc)) from None


def _services_of_running_dev(
    settings: Settings, needed: tuple[str, ...] = ("DATABASE_URL", "REDIS_URL", "S3_ENDPOINT_URL")
) -> Settings:
    """Service URLs left unset are taken from the `puppies dev` running on DATA_DIR; an error
    names what is still missing of `needed` when no such stack runs."""
    from puppies import devstate

    settings, stack = devstate.with_running_stack(settings)
    if stack is not None:
        click.echo(f"using the running `puppies dev` (pid {stack.pid}): {stack.describe()}")
        return settings
    missing = [env for env in needed if getattr(settings, devstate.SERVICE_URLS[env]) is None]
    if missing:
        raise click.ClickException(
            f"{', '.join(missing)} not set and no `puppies dev` is running on DATA_DIR="
            f"{settings.data_dir} (it records itself in {devstate.state_path(settings)}): "
            "start `make run` in another terminal and run this again, or set "
            f"{', '.join(missing)} to your servers' URLs"
        )
    return settings


class LazyGroup(click.Group):
    """A click group whose sub-commands are named by import strings and loaded on use."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            command = components.load(self.lazy[cmd_name])
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)


# what `puppies serve <subgraph>` serves HTTP with (subgraphs/common/server.py)
SUBGRAPH_HTTP_PROTOCOL = "subgraphs.common.server:CoalescingHttpToolsProtocol"


@click.group(
    cls=LazyGroup,
    lazy={
        "compose": components.COMPOSE_COMMAND,
        "plan": components.PLAN_COMMAND,
        "users": components.USERS_COMMAND,
    },
    context_settings={"help_option_names": ["-h", "--help"]},
)
def main() -> None:
    """Puppies: a federated GraphQL API for a social app.

    Settings come from the environment and .env (DATABASE_URL, REDIS_URL, S3_ENDPOINT_URL,
    ...); see the README.
    """


@main.command()
@click.option("--reset", is_flag=True, help="Wipe .puppies/ (embedded data, dev keys) first.")
def dev(reset: bool) -> None:
    """Start the whole stack for development.

    Starts embedded PostgreSQL, Redis and S3 for each of DATABASE_URL, REDIS_URL,
    S3_ENDPOINT_URL that is unset (data kept under .puppies/), runs migrations, starts the
    subgraphs, the worker and the router, and prints the router URL. Ctrl-C stops it all.
    """
    from puppies.supervisor import run_dev

    try:
        code = run_dev(_settings(), reset=reset)
    except PuppiesError as exc:
        raise click.ClickException(str(exc)) from None
    sys.exit(code)


@main.command()
@click.argument("process", type=click.Choice(SERVABLE))
@click.option("--host", default=None, help="Interface to bind (default HOST setting).")
@click.option("--port", type=int, default=None, help="Port (default: the process's own).")
@click.option(
    "--supergraph",
    type=click.Path(dir_okay=False),
    default="supergraph.graphql",
    show_default=True,
    help="router only: the supergraph SDL file to serve.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="router only: router.yaml (built-in defaults for every key when left out).",
)
@click.option(
    "--listen",
    default=None,
    help="router only: HOST:PORT, overriding supergraph.listen of router.yaml.",
)
@click.option("--workers", type=int, default=1, show_default=True, help="Worker processes.")
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    help="router only (subgraphs: LOG_LEVEL); the access log is at info.",
)
@click.option(
    "--hot-reload",
    is_flag=True,
    help="router only: serve a changed supergraph or router.yaml without a restart.",
)
def serve(
    process: str,
    host: str | None,
    port: int | None,
    supergraph: str,
    config_path: str | None,
    listen: str | None,
    workers: int,
    log_level: str,
    hot_reload: bool,
) -> None:
    """Serve one process: the router or a subgraph (users, posts, feed, analytics).

    The router serves any supergraph file and needs no database; a subgraph needs
    DATABASE_URL, REDIS_URL and S3_ENDPOINT_URL (which `puppies dev` sets for it).
    """
    from puppies.observability import memtrace

    memtrace.install(process)  # off unless PUPPIES_MEMTRACE_DIR is set
    if process == "router":
        if listen is None and (host is not None or port is not None):
            listen = f"{host or '127.0.0.1'}:{port or 4000}"
        serve_router = components.load(components.ROUTER_CLI + ":serve_router")
        run_or_exit = components.load(components.ROUTER_CLI + ":run_or_exit")
        run_or_exit(
            lambda: serve_router(
                supergraph,
                config_path,
                listen=listen,
                log_level=log_level,
                workers=workers,
                hot_reload=hot_reload,
            )
        )
        return
    import uvicorn

    from puppies.observability.logs import logging_config, resolve_format

    settings = _settings()
    _require_services(settings)
    target = components.SUBGRAPH_APPS[process]
    if not components.exists(target):
        raise click.ClickException(f"the {process} subgraph is not built yet")
    if workers < 1:
        raise click.ClickException(f"--workers must be at least 1, got {workers}")
    metrics_dir = None
    if workers > 1:
        from puppies.observability.metrics import remove_multiprocess_dir, use_multiprocess_dir

        metrics_dir = use_multiprocess_dir(settings.data_dir)
    try:
        uvicorn.run(
            target,
            factory=True,
            host=host or settings.host,
            port=port if port is not None else getattr(settings, f"{process}_port"),
            workers=workers if workers > 1 else None,
            log_config=logging_config(
                process,
                settings.log_level,
                resolve_format(settings.log_format, settings.environment),
            ),
            log_level=settings.log_level.lower(),
            access_log=False,
            lifespan="on",
            loop="uvloop",
            # uvicorn's httptools protocol, a response's writes coalesced into one
            http=SUBGRAPH_HTTP_PROTOCOL,
            ws="websockets-sansio",
            timeout_graceful_shutdown=10,
        )
    finally:
        if metrics_dir is not None:
            remove_multiprocess_dir(metrics_dir)


@main.command()
def worker() -> None:
    """Run the arq worker: outbox relay, feed fan-out, media processing, counters, rollups."""
    from puppies.observability import memtrace

    memtrace.install("worker")  # off unless PUPPIES_MEMTRACE_DIR is set
    settings = _settings()
    _require_services(settings)
    if not components.exists(components.WORKER_MAIN):
        raise click.ClickException("the worker is not built yet")
    components.load(components.WORKER_MAIN)(settings)


@main.command()
@click.option("--target", default="heads", show_default=True, help="Alembic revision.")
def migrate(target: str) -> None:
    """Apply database migrations (one PostgreSQL schema and version branch per domain).

    With DATABASE_URL unset it migrates the database of the `puppies dev` running on
    DATA_DIR (which also migrates by itself at start)."""
    from puppies import migrate as m

    settings = _services_of_running_dev(_settings(), needed=("DATABASE_URL",))
    m.upgrade(settings, target)
    click.echo("database is up to date")


@main.command()
@click.option("--users", type=int, default=200, show_default=True, help="Accounts to create.")
@click.option(
    "--follows", type=int, default=20, show_default=True, help="Average accounts each one follows."
)
@click.option("--posts", type=int, default=5, show_default=True, help="Average posts per account.")
@click.option("--likes", type=int, default=10, show_default=True, help="Average likes per post.")
@click.option(
    "--comments", type=int, default=2, show_default=True, help="Average comments per post."
)
@click.option(
    "--scale",
    is_flag=True,
    help="Benchmark scale: a power-law graph of 100,000 users, 5,000,000 follows, "
    "1,000,000 posts (overrides the counts above).",
)
@click.option(
    "--seed",
    "random_seed",
    type=int,
    default=42,
    show_default=True,
    help="Random seed, for a reproducible graph.",
)
def seed(
    users: int, follows: int, posts: int, likes: int, comments: int, scale: bool, random_seed: int
) -> None:
    """Fill the database with demo data, with a progress bar.

    With DATABASE_URL, REDIS_URL and S3_ENDPOINT_URL unset it uses the `puppies dev` running
    on DATA_DIR (`make run` in another terminal). Idempotent: a second run with the same
    options adds nothing, and it says what it created and what was already there."""
    settings = _services_of_running_dev(_settings())
    if not components.exists(components.SEED_MAIN):
        raise click.ClickException("seeding is not built yet")
    components.load(components.SEED_MAIN)(
        settings,
        users=users,
        follows=follows,
        posts=posts,
        likes=likes,
        comments=comments,
        scale=scale,
        random_seed=random_seed,
    )


@main.group("api-keys")
def api_keys() -> None:
    """Operate on partners' API keys."""


@api_keys.command("client")
@click.argument("key_id", type=int)
@click.argument("client", required=False)
@click.option("--none", "clear", is_flag=True, help="Take the key out of its client.")
def api_keys_client(key_id: int, client: str | None, clear: bool) -> None:
    """Assign API key KEY_ID to CLIENT: the router then holds the key to that client's
    persisted-query safelist (router.yaml persisted_queries.clients). Routers pick the
    change up at once."""
    if (client is None) == (not clear):
        raise click.UsageError("give a CLIENT name, or --none")
    settings = _services_of_running_dev(_settings(), needed=("DATABASE_URL", "REDIS_URL"))
    try:
        message = components.load(components.API_KEY_CLIENT)(settings, key_id, client)
    except PuppiesError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(message)


@main.group()
def keys() -> None:
    """Manage the ES256 keys that sign access tokens (JWT_KEYS_DIR, default .puppies/keys)."""


@keys.command("list")
def keys_list() -> None:
    """List the signing keys (newest signs; all are published in the JWKS)."""
    from puppies.auth.keys import KeyRing

    ring = KeyRing(_settings().keys_dir).load(create=False)
    current = ring.keys[-1].kid if ring.keys else None
    for key in ring.keys:
        click.echo(f"{key.kid}{'  (signing)' if key.kid == current else ''}")


@keys.command("rotate")
def keys_rotate() -> None:
    """Add a new signing key. Running users subgraphs pick it up within a second; tokens
    signed by older keys stay valid (their keys stay published) until `keys prune`."""
    from puppies.auth.keys import KeyRing

    kid = KeyRing(_settings().keys_dir).load(create=False).rotate()
    click.echo(f"new signing key {kid}")


@keys.command("prune")
@click.option(
    "--older-than",
    type=int,
    default=None,
    help="Seconds since a key was superseded (default: the access-token TTL).",
)
def keys_prune(older_than: int | None) -> None:
    """Remove keys superseded long enough ago that no live token can need them."""
    from puppies.auth.keys import KeyRing

    settings = _settings()
    removed = (
        KeyRing(settings.keys_dir)
        .load(create=False)
        .prune(older_than if older_than is not None else settings.access_token_ttl_seconds + 60)
    )
    click.echo(f"removed {len(removed)} key(s)" + (f": {', '.join(removed)}" if removed else ""))


if __name__ == "__main__":
    main()
