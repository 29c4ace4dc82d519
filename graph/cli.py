"""The router's command-line logic: ``puppies serve router`` (and friends).

``puppies/cli.py`` loads these by import string, so the platform package does not import
the router. Everything here is plain functions plus one click command group, ``router``.
"""

from __future__ import annotations

import logging
import logging.config
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import click

from graph.config import RouterConfig, load_config, parse_listen
from graph.errors import ConfigError, GraphError
from graph.observability.logs import logging_config
from graph.observability.metrics import MULTIPROC_ENV
from graph.supergraph.errors import SupergraphError

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


def _bind(listen: str) -> socket.socket:
    host, port = parse_listen(listen)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {listen}: {exc.strerror or exc}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def build_app(
    supergraph_path: str | Path,
    config: RouterConfig,
    *,
    hot_reload: bool = False,
    config_path: str | Path | None = None,
    listen: str | None = None,
) -> tuple[ASGIApp, list[str]]:
    """The ASGI app to serve and the addresses it listens on (main listen first).

    With ``hot_reload`` the router watches ``supergraph_path`` and ``config_path`` and
    serves their new contents without a restart (``listen`` overrides the file's listen).
    """
    from graph.app import create_app
    from graph.listeners import create_side_app
    from graph.reload import HotReload

    try:
        sdl = Path(supergraph_path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read supergraph {supergraph_path}: {exc.strerror or exc}"
        ) from None
    try:
        router = create_app(sdl, config)
    except SupergraphError as exc:
        raise ConfigError(f"cannot serve supergraph {supergraph_path}: {exc}") from None
    if hot_reload:
        router.background.append(HotReload(router, supergraph_path, config_path, listen=listen).run)
    main_listen = config.supergraph.listen
    side_listens = {
        listen
        for listen in (
            config.health_check.listen if config.health_check.enabled else None,
            config.telemetry.exporters.metrics.prometheus.listen
            if config.telemetry.exporters.metrics.prometheus.enabled
            else None,
        )
        if listen is not None and listen != main_listen
    }
    if not side_listens:
        return router, [main_listen]
    side = create_side_app(config, router)
    side_ports = {parse_listen(listen)[1] for listen in side_listens}

    async def dispatch(scope: Scope, receive: Any, send: Any) -> None:
        server = scope.get("server")
        if scope["type"] == "lifespan" or server is None or server[1] not in side_ports:
            await router(scope, receive, send)
        else:
            await side(scope, receive, send)

    return dispatch, [main_listen, *sorted(side_listens)]


_ENV_SUPERGRAPH = "PUPPIES_ROUTER_SUPERGRAPH"
_ENV_CONFIG = "PUPPIES_ROUTER_CONFIG"
_ENV_LISTEN = "PUPPIES_ROUTER_LISTEN"
_ENV_HOT_RELOAD = "PUPPIES_ROUTER_HOT_RELOAD"


def _effective_config(config_path: str | Path | None, listen: str | None) -> RouterConfig:
    config = load_config(config_path)
    if listen is not None:
        parse_listen(listen)
        config = config.model_copy(
            update={"supergraph": config.supergraph.model_copy(update={"listen": listen})}
        )
    return config


def app_from_env() -> ASGIApp:
    """The app of one worker process (``--workers`` > 1): paths come from the parent's env."""
    config_path = os.environ.get(_ENV_CONFIG) or None
    listen = os.environ.get(_ENV_LISTEN) or None
    app, _ = build_app(
        os.environ[_ENV_SUPERGRAPH],
        _effective_config(config_path, listen),
        hot_reload=os.environ.get(_ENV_HOT_RELOAD) == "1",
        config_path=config_path,
        listen=listen,
    )
    return app


def serve_router(
    supergraph_path: str | Path,
    config_path: str | Path | None = None,
    *,
    listen: str | None = None,
    log_level: str = "info",
    workers: int = 1,
    hot_reload: bool = False,
) -> None:
    """Serve ``supergraph_path`` with uvicorn (uvloop + httptools) until interrupted.

    With ``workers`` > 1 the listening sockets are shared by that many worker processes,
    each with its own gateway and connection pools (uvicorn's multiprocess supervisor).
    """
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from graph.observability.gc import thresholds as gc_thresholds
    from graph.serving.transports.ws_protocol import LeanWebSocketProtocol

    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    if log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(
            f"--log-level must be debug, info, warning, error or critical, got {log_level!r}"
        )
    config = _effective_config(config_path, listen)
    try:
        gc_thresholds()  # PUPPIES_ROUTER_GC_THRESHOLDS, set at start-up (graph/app.py)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    stdout = config.telemetry.exporters.logging.stdout
    log_config = logging_config(log_level if stdout.enabled else "CRITICAL", stdout.format)
    logging.config.dictConfig(log_config)
    # build once in this process: every config and supergraph error surfaces here
    app, listens = build_app(
        supergraph_path, config, hot_reload=hot_reload, config_path=config_path, listen=listen
    )
    sockets = [_bind(address) for address in listens]
    metrics_dir: str | None = None
    options: dict[str, Any] = {
        "loop": "uvloop",
        "http": "httptools",
        # uvicorn's websockets-sansio protocol, without the handshake kept for the socket's
        # life (fewer objects per WebSocket for every full garbage collection to walk)
        "ws": LeanWebSocketProtocol,
        "lifespan": "on",
        "access_log": False,
        "log_level": log_level,
        "log_config": log_config,
        "ws_max_size": config.limits.http_max_request_bytes,
        "timeout_keep_alive": 30,
        "server_header": False,
        "date_header": False,
        "timeout_graceful_shutdown": 10,
    }
    logging.getLogger("graph.cli").info(
        "router serving %s at http://%s%s%s",
        supergraph_path,
        listens[0],
        config.supergraph.path,
        f" with {workers} workers" if workers > 1 else "",
    )
    try:
        if workers == 1:
            uvicorn.Server(uvicorn.Config(app, **options)).run(sockets=sockets)
        else:
            del app
            # the processes add up their metrics in one directory (graph/observability)
            if not os.environ.get(MULTIPROC_ENV):
                metrics_dir = tempfile.mkdtemp(prefix="puppies-router-metrics-")
                os.environ[MULTIPROC_ENV] = metrics_dir
            os.environ[_ENV_SUPERGRAPH] = str(Path(supergraph_path).resolve())
            os.environ[_ENV_CONFIG] = str(Path(config_path).resolve()) if config_path else ""
            os.environ[_ENV_LISTEN] = listen or ""
            os.environ[_ENV_HOT_RELOAD] = "1" if hot_reload else ""
            uv_config = uvicorn.Config(
                "graph.cli:app_from_env", factory=True, workers=workers, **options
            )
            Multiprocess(uv_config, sockets=sockets).run()
    finally:
        for sock in sockets:
            sock.close()
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


@click.group("router")
def router_cli() -> None:
    """The federated GraphQL router."""


@router_cli.command("serve")
@click.option(
    "--supergraph",
    "supergraph_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The supergraph SDL file to serve (any Federation 2 supergraph).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="router.yaml (defaults for every key when left out).",
)
@click.option("--listen", default=None, help="host:port, overriding supergraph.listen.")
@click.option("--log-level", default="info", show_default=True)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=int,
    help="Worker processes sharing the listening socket.",
)
@click.option(
    "--hot-reload",
    is_flag=True,
    help="Serve a changed supergraph file or router.yaml without a restart.",
)
def serve_command(
    supergraph_path: str,
    config_path: str | None,
    listen: str | None,
    log_level: str,
    workers: int,
    hot_reload: bool,
) -> None:
    """Serve a supergraph file with the router (router.yaml from --config)."""
    run_or_exit(
        lambda: serve_router(
            supergraph_path,
            config_path,
            listen=listen,
            log_level=log_level,
            workers=workers,
            hot_reload=hot_reload,
        )
    )


def plan_operation(
    operation_path: str | Path, supergraph_path: str | Path, operation_name: str | None = None
) -> str:
    """The query plan of the operation in ``operation_path``, printed for a human."""
    from graph.execution.errors import RequestError
    from graph.execution.gateway import Gateway
    from graph.planning.printer import format_plan

    try:
        query = Path(operation_path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read operation {operation_path}: {exc.strerror or exc}"
        ) from None
    try:
        sdl = Path(supergraph_path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read supergraph {supergraph_path}: {exc.strerror or exc}"
        ) from None
    try:
        gateway = Gateway.from_supergraph_sdl(sdl)
    except SupergraphError as exc:
        raise ConfigError(f"cannot load supergraph {supergraph_path}: {exc}") from None
    try:
        prepared = gateway.prepare(query, operation_name)
    except RequestError as exc:
        details = "\n".join(f"  - {e.get('message')}" for e in exc.errors)
        raise ConfigError(f"{operation_path}: {exc.code}:\n{details}") from None
    return format_plan(prepared.plan)


@click.command("plan")
@click.argument("operation", type=click.Path(dir_okay=False))
@click.option(
    "--supergraph",
    "supergraph_path",
    default="supergraph.graphql",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The supergraph to plan against.",
)
@click.option("--operation-name", default=None, help="Which operation of the file to plan.")
def plan_command(operation: str, supergraph_path: str, operation_name: str | None) -> None:
    """Print the query plan of the operation in OPERATION (a .graphql file)."""
    run_or_exit(lambda: click.echo(plan_operation(operation, supergraph_path, operation_name)))


router_cli.add_command(plan_command)


def run_or_exit(action: Callable[[], None]) -> None:
    """Run a command; a router error is printed as one clear message and exit status 2."""
    try:
        action()
    except GraphError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


def main() -> None:  # pragma: no cover - `python -m graph.cli`
    router_cli()


if __name__ == "__main__":  # pragma: no cover
    main()
