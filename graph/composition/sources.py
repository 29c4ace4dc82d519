"""The I/O side of composition: get each subgraph's SDL (``_service { sdl }`` over HTTP, or a
file), compose, and write ``supergraph.graphql``. `compose_command` is what ``puppies compose``
calls."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from graph.composition.compose import compose
from graph.composition.errors import SubgraphSourceError
from graph.composition.model import Subgraph
from graph.config import RouterConfig, load_config

SERVICE_QUERY = "query __ApolloGetServiceDefinition__ { _service { sdl } }"


@dataclass(frozen=True)
class SubgraphLocation:
    """Where one subgraph lives: the URL the router calls, and where its SDL comes from
    (`schema_url` for ``_service { sdl }``, `file` for a file; neither means `routing_url`)."""

    name: str
    routing_url: str
    schema_url: str | None = None
    file: str | None = None


def locations_from_config(
    config: RouterConfig, base_dir: Path | None = None
) -> list[SubgraphLocation]:
    """The ``subgraphs`` section of router.yaml; relative files are relative to `base_dir`."""
    out: list[SubgraphLocation] = []
    for name, source in config.subgraphs.items():
        schema_url = file = None
        if source.schema_ is not None:
            schema_url = source.schema_.subgraph_url
            file = source.schema_.file
            if file is not None and base_dir is not None and not Path(file).is_absolute():
                file = str(base_dir / file)
        out.append(SubgraphLocation(name, source.routing_url, schema_url, file))
    return out


async def fetch_sdl(
    session: aiohttp.ClientSession, location: SubgraphLocation, timeout: float
) -> Subgraph:
    """One subgraph's SDL, from its file or its ``_service { sdl }``."""
    if location.file is not None:
        path = Path(location.file)
        try:
            sdl = await asyncio.to_thread(path.read_text, encoding="utf-8")
        except OSError as exc:
            raise SubgraphSourceError(
                f'subgraph "{location.name}": cannot read schema file {path}: {exc.strerror}'
            ) from exc
        return Subgraph(location.name, location.routing_url, sdl)
    url = location.schema_url or location.routing_url
    try:
        async with session.post(
            url,
            json={"query": SERVICE_QUERY},
            headers={"accept": "application/json"},
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            body = await response.text()
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        reason = str(exc) or type(exc).__name__
        raise SubgraphSourceError(
            f'subgraph "{location.name}": cannot fetch _service {{ sdl }} from {url}: {reason}'
        ) from exc
    try:
        payload = json.loads(body)
        sdl = payload["data"]["_service"]["sdl"]
    except (ValueError, KeyError, TypeError) as exc:
        detail = body[:200].replace("\n", " ")
        raise SubgraphSourceError(
            f'subgraph "{location.name}": {url} answered HTTP {status} without '
            f"data._service.sdl (is it a federation subgraph?): {detail}"
        ) from exc
    if not isinstance(sdl, str) or not sdl.strip():
        raise SubgraphSourceError(f'subgraph "{location.name}": {url} returned an empty SDL')
    return Subgraph(location.name, location.routing_url, sdl)


async def fetch_subgraphs(
    locations: Iterable[SubgraphLocation], timeout: float = 10.0
) -> list[Subgraph]:
    """Every subgraph's SDL, fetched concurrently; the first failure is raised."""
    async with aiohttp.ClientSession() as session:
        return list(await asyncio.gather(*(fetch_sdl(session, loc, timeout) for loc in locations)))


def compose_locations(locations: Iterable[SubgraphLocation], timeout: float = 10.0) -> str:
    """Fetch and compose; raises `SubgraphSourceError` or `CompositionError`."""
    locations = list(locations)
    if not locations:
        raise SubgraphSourceError("no subgraphs listed (router.yaml: subgraphs)")
    return compose(asyncio.run(fetch_subgraphs(locations, timeout)))


def compose_command(
    config_path: str | Path | None,
    output: str | Path = "supergraph.graphql",
    *,
    timeout: float = 10.0,
    check: bool = False,
) -> bool:
    """``puppies compose``: compose the subgraphs of router.yaml and write `output`.

    With `check`, nothing is written; returns whether `output` is up to date. Otherwise
    returns True when the file changed."""
    config = load_config(config_path)
    base_dir = Path(config_path).resolve().parent if config_path else Path.cwd()
    sdl = compose_locations(locations_from_config(config, base_dir), timeout)
    target = Path(output)
    current = target.read_text(encoding="utf-8") if target.exists() else None
    if check:
        return current == sdl
    if current != sdl:
        target.write_text(sdl, encoding="utf-8")
        return True
    return False
