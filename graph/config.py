"""The ``router.yaml`` model.

Key paths follow Apollo Router's router.yaml for everything we support, so an operator can
move between the two. Every section is strict: an unknown key stops start-up with an error
that names it (and suggests the closest known key). Strings may use ``${env.NAME}`` or
``${env.NAME:-default}`` to read the environment when the file is loaded.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from graph.errors import ConfigError
from graph.plugins.apq import ApqConfig
from graph.plugins.authentication import AuthenticationConfig
from graph.plugins.authorization import AuthorizationConfig
from graph.plugins.base import Duration, StrictModel
from graph.plugins.browser import GraphiQLConfig, StaticMount
from graph.plugins.client_ip import ClientIpConfig
from graph.plugins.cors import CorsConfig
from graph.plugins.csrf import CsrfConfig
from graph.plugins.demand_control import DemandControlConfig
from graph.plugins.headers import HeadersConfig
from graph.plugins.limits import LimitsConfig
from graph.plugins.persisted_queries import PersistedQueriesConfig
from graph.plugins.progressive_override import LabelRule
from graph.plugins.rate_limits import RateLimitsConfig
from graph.plugins.subgraph_errors import SubgraphErrorsConfig
from graph.plugins.telemetry import TelemetryConfig
from graph.plugins.traffic_shaping import TrafficShapingConfig

_LISTEN = re.compile(
    r"^(?:\[(?P<v6>[0-9a-fA-F:.]+)\]|(?P<host>[A-Za-z0-9.\-]+)):(?P<port>\d{1,5})$"
)
_ENV = re.compile(r"\$\{env\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


def parse_listen(value: str) -> tuple[str, int]:
    """``"127.0.0.1:4000"`` or ``"[::1]:4000"`` -> ``(host, port)``."""
    match = _LISTEN.match(value.strip())
    if match is None:
        raise ValueError(
            f"{value!r} is not a listen address; write host:port, e.g. '127.0.0.1:4000'"
        )
    port = int(match.group("port"))
    if port > 65535:
        raise ValueError(f"port {port} in {value!r} is out of range (0-65535)")
    return match.group("v6") or match.group("host"), port


def _check_listen(value: str | None) -> str | None:
    if value is not None:
        parse_listen(value)
    return value


def _check_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"a path starts with '/', got {value!r}")
    return value


class InMemoryCache(StrictModel):
    limit: int = Field(default=512, gt=0)


class QueryPlanningCache(StrictModel):
    in_memory: InMemoryCache = Field(default_factory=InMemoryCache)


class QueryPlanning(StrictModel):
    cache: QueryPlanningCache = Field(default_factory=QueryPlanningCache)


class SupergraphConfig(StrictModel):
    """``supergraph``: where the GraphQL endpoint listens and what it allows."""

    listen: str = "127.0.0.1:4000"
    path: str = "/graphql"
    introspection: bool = False
    query_planning: QueryPlanning = Field(default_factory=QueryPlanning)
    # @defer and @stream in the API schema, answered in parts to clients that accept them
    defer_support: bool = True

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str | None) -> str | None:
        return _check_listen(value)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return _check_path(value)

    @property
    def host(self) -> str:
        return parse_listen(self.listen)[0]

    @property
    def port(self) -> int:
        return parse_listen(self.listen)[1]


class ReadinessInterval(StrictModel):
    # how often every subgraph is asked `{ __typename }` (each probe times out after it)
    sampling: Duration = 5.0
    # the router is unready while a subgraph's last good answer is older than this
    unready: Duration = 10.0


class ReadinessConfig(StrictModel):
    interval: ReadinessInterval = Field(default_factory=ReadinessInterval)


class HealthCheckConfig(StrictModel):
    """``health_check``: ``GET <path>`` answers 200 ``{"status":"UP"}`` while the router
    serves; ``GET <path>?ready`` answers 503 ``{"status":"DOWN"}`` while a subgraph has not
    answered the readiness probe within ``readiness.interval.unready``."""

    enabled: bool = True
    listen: str | None = None
    path: str = "/health"
    readiness: ReadinessConfig = Field(default_factory=ReadinessConfig)

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str | None) -> str | None:
        return _check_listen(value)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return _check_path(value)


class SubgraphSchemaSource(StrictModel):
    """Where composition gets a subgraph's SDL: its ``_service { sdl }`` or a file."""

    subgraph_url: str | None = None
    file: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SubgraphSchemaSource:
        if (self.subgraph_url is None) == (self.file is None):
            raise ValueError("schema takes exactly one of 'subgraph_url' or 'file'")
        return self


class SubgraphSource(StrictModel):
    """One entry of ``subgraphs``: the URL the router calls and where its schema comes from.

    The layout is Rover's supergraph.yaml (``routing_url``, ``schema.subgraph_url`` or
    ``schema.file``). ``puppies compose`` reads it; serving uses the supergraph file.
    """

    routing_url: str
    schema_: SubgraphSchemaSource | None = Field(default=None, alias="schema")

    model_config = StrictModel.model_config | {"populate_by_name": True}


class SubscriptionConfig(StrictModel):
    """``subscription``: how subscriptions are streamed to clients."""

    # seconds between heartbeat parts of a multipart subscription response when no event
    # came (Apollo Router sends one every 5 s)
    heartbeat_interval: Duration = 5.0


class RouterConfig(StrictModel):
    """The whole ``router.yaml``."""

    supergraph: SupergraphConfig = Field(default_factory=SupergraphConfig)
    health_check: HealthCheckConfig = Field(default_factory=HealthCheckConfig)
    cors: CorsConfig = Field(default_factory=CorsConfig)
    csrf: CsrfConfig = Field(default_factory=CsrfConfig)
    headers: HeadersConfig = Field(default_factory=HeadersConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    traffic_shaping: TrafficShapingConfig = Field(default_factory=TrafficShapingConfig)
    include_subgraph_errors: SubgraphErrorsConfig = Field(default_factory=SubgraphErrorsConfig)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    apq: ApqConfig = Field(default_factory=ApqConfig)
    authentication: AuthenticationConfig = Field(default_factory=AuthenticationConfig)
    client_ip: ClientIpConfig = Field(default_factory=ClientIpConfig)
    persisted_queries: PersistedQueriesConfig = Field(default_factory=PersistedQueriesConfig)
    authorization: AuthorizationConfig = Field(default_factory=AuthorizationConfig)
    demand_control: DemandControlConfig = Field(default_factory=DemandControlConfig)
    subscription: SubscriptionConfig = Field(default_factory=SubscriptionConfig)
    # progressive @override: label -> on/off, or a rule (graph/plugins/progressive_override.py)
    override_labels: dict[str, bool | LabelRule] = Field(default_factory=dict)
    graphiql: GraphiQLConfig = Field(default_factory=GraphiQLConfig)
    static_files: list[StaticMount] = Field(default_factory=list)
    rate_limits: RateLimitsConfig = Field(default_factory=RateLimitsConfig)
    subgraphs: dict[str, SubgraphSource] = Field(default_factory=dict)
    override_subgraph_url: dict[str, str] = Field(default_factory=dict)

    @field_validator("override_subgraph_url")
    @classmethod
    def _http_urls(cls, urls: dict[str, str]) -> dict[str, str]:
        for name, url in urls.items():
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{name}: {url!r} is not an http:// or https:// URL")
        return urls

    @model_validator(mode="after")
    def _apq_or_safelist(self) -> RouterConfig:
        safelist = self.persisted_queries.safelist
        if self.apq.enabled and (safelist.enabled or safelist.require_id):
            raise ValueError(
                "persisted_queries.safelist cannot be combined with apq.enabled (clients "
                "could register any operation through APQ): set apq.enabled: false"
            )
        return self

    @model_validator(mode="after")
    def _browser_pages(self) -> RouterConfig:
        if self.graphiql.enabled and not self.supergraph.introspection:
            raise ValueError(
                "graphiql.enabled needs supergraph.introspection: true (the IDE loads the "
                "schema by introspection); turn both on, or graphiql off"
            )
        taken = {self.supergraph.path.rstrip("/") or "/"}
        if self.health_check.enabled:
            taken.add(self.health_check.path)
        for mount in self.static_files:
            for other in taken:
                if mount.path == other or other.startswith(mount.path + "/"):
                    raise ValueError(
                        f"static_files: {mount.path} would hide {other}; mount it elsewhere"
                    )
            taken.add(mount.path)
        return self


def _expand_env(value: Any, where: str) -> Any:
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group("name"), match.group("default")
            found = os.environ.get(name)
            if found is not None:
                return found
            if default is not None:
                return default
            raise ConfigError(
                f"router.yaml: {where or '<root>'} refers to ${{env.{name}}}, which is not set "
                f"(set it, or write ${{env.{name}:-default}})"
            )

        return _ENV.sub(substitute, value)
    if isinstance(value, dict):
        return {k: _expand_env(v, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _unwrap(annotation: Any, part: int | str | None) -> list[Any]:
    """The candidate types ``annotation`` stands for when indexed by ``part``."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0], part)
    if origin in (Union, UnionType):
        out: list[Any] = []
        for arg in get_args(annotation):
            out += _unwrap(arg, part)
        return out
    return [annotation]


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model class that holds the key at ``loc`` (to list the keys it accepts)."""
    current: list[Any] = [RouterConfig]
    for part in loc[:-1]:
        following: list[Any] = []
        for candidate in current:
            for kind in _unwrap(candidate, part):
                origin = get_origin(kind)
                if isinstance(kind, type) and issubclass(kind, BaseModel):
                    for name, info in kind.model_fields.items():
                        if part in (name, info.alias):
                            following.append(info.annotation)
                elif origin is dict:
                    following.append(get_args(kind)[1])
                elif origin is list and isinstance(part, int):
                    following.append(get_args(kind)[0])
        current = following
    for candidate in current:
        for kind in _unwrap(candidate, None):
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                return kind
    return None


def _describe(error: Any) -> str:
    raw: tuple[int | str, ...] = tuple(error["loc"])
    loc: tuple[int | str, ...] = ()
    for i, part in enumerate(raw):
        # a tagged union repeats the tag before the field of the same name: drop the tag
        if 0 < i < len(raw) - 1 and raw[i + 1] == part and isinstance(raw[i - 1], int):
            continue
        loc += (part,)
    where = _dotted(loc) or "<root>"
    if error["type"] == "extra_forbidden":
        key = str(loc[-1])
        model = _model_at(loc)
        message = f"unknown key '{where}'"
        if model is not None:
            known = sorted(f.alias or name for name, f in model.model_fields.items())
            close = difflib.get_close_matches(key, known, n=1)
            if close:
                message += f" (did you mean '{close[0]}'?)"
            message += f"; allowed here: {', '.join(known)}"
        return message
    msg = str(error["msg"])
    msg = msg.removeprefix("Value error, ")
    return f"{where}: {msg}"


def config_from_mapping(data: Any, source: str = "router.yaml") -> RouterConfig:
    """Validate a parsed router.yaml; raise :class:`ConfigError` naming every bad key."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: the top level must be a mapping of keys, not {type(data).__name__}"
        )
    data = _expand_env(data, "")
    try:
        return RouterConfig.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(e) for e in exc.errors()]
        raise ConfigError(
            f"{source} is invalid ({len(problems)} problem{'s' if len(problems) > 1 else ''}):\n"
            + "\n".join(f"  - {p}" for p in problems)
        ) from None


def load_config(path: str | Path | None) -> RouterConfig:
    """Read and validate ``router.yaml`` (defaults for everything when ``path`` is None)."""
    if path is None:
        return RouterConfig()
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read router config {file}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file} is not valid YAML: {exc}") from None
    _resolve_manifest_paths(data, file.parent)
    return config_from_mapping(data, str(file))


def _resolve_manifest_paths(data: Any, base: Path) -> None:
    """Manifest and static_files paths in router.yaml are relative to the file's directory."""
    mounts = data.get("static_files") if isinstance(data, dict) else None
    if isinstance(mounts, list):
        for mount in mounts:
            where = mount.get("dir") if isinstance(mount, dict) else None
            if isinstance(where, str) and not Path(where).is_absolute():
                mount["dir"] = str(base / where)
    section = data.get("persisted_queries") if isinstance(data, dict) else None
    if not isinstance(section, dict):
        return
    holders = [section]
    clients = section.get("clients")
    if isinstance(clients, dict):
        holders += [c for c in clients.values() if isinstance(c, dict)]
    for holder in holders:
        manifests = holder.get("local_manifests")
        if isinstance(manifests, list):
            holder["local_manifests"] = [
                str(base / m) if isinstance(m, str) and not Path(m).is_absolute() else m
                for m in manifests
            ]
