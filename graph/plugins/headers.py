"""Header propagation from the client request to subgraph requests.

Apollo Router's ``headers`` section: rules under ``all`` apply to every subgraph, then the
rules under ``subgraphs.<name>``, each list in order. A rule is one of

- ``propagate``: copy a client header (``named``, optionally ``rename`` and ``default``) or
  every client header whose name matches a regular expression (``matching``);
- ``insert``: set a fixed header (``name``, ``value``);
- ``remove``: drop a header set by an earlier rule (``named`` or ``matching``).

Connection-level headers (``host``, ``content-length``, ``connection`` ...) are never
propagated: the router's HTTP client sets them for its own request.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from graph.plugins.base import StrictModel
from graph.serving.request import RouterRequest
from graph.serving.stage import Stage

RESERVED_HEADERS = frozenset(
    {
        "connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "content-type",
        "content-encoding",
        "host",
        "accept",
        "accept-encoding",
        "keep-alive",
    }
)


def _header_name(value: str) -> str:
    name = value.strip().lower()
    if not name or not re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9a-z]+", name):
        raise ValueError(f"{value!r} is not a valid HTTP header name")
    if name in RESERVED_HEADERS:
        raise ValueError(
            f"{name!r} is set by the router's HTTP client for each subgraph request and "
            "cannot be propagated, inserted or removed"
        )
    return name


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"{value!r} is not a valid regular expression: {exc}") from exc
    return value


class PropagateSpec(StrictModel):
    named: str | None = None
    matching: str | None = None
    rename: str | None = None
    default: str | None = None

    @field_validator("named", "rename")
    @classmethod
    def _names(cls, value: str | None) -> str | None:
        return None if value is None else _header_name(value)

    @field_validator("matching")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        return None if value is None else _regex(value)

    @model_validator(mode="after")
    def _one_selector(self) -> PropagateSpec:
        if (self.named is None) == (self.matching is None):
            raise ValueError("propagate takes exactly one of 'named' or 'matching'")
        if self.matching is not None and (self.rename is not None or self.default is not None):
            raise ValueError("'rename' and 'default' go with 'named', not with 'matching'")
        return self


class InsertSpec(StrictModel):
    name: str
    value: str

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _header_name(value)


class RemoveSpec(StrictModel):
    named: str | None = None
    matching: str | None = None

    @field_validator("named")
    @classmethod
    def _names(cls, value: str | None) -> str | None:
        return None if value is None else _header_name(value)

    @field_validator("matching")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        return None if value is None else _regex(value)

    @model_validator(mode="after")
    def _one_selector(self) -> RemoveSpec:
        if (self.named is None) == (self.matching is None):
            raise ValueError("remove takes exactly one of 'named' or 'matching'")
        return self


class PropagateRule(StrictModel):
    propagate: PropagateSpec


class InsertRule(StrictModel):
    insert: InsertSpec


class RemoveRule(StrictModel):
    remove: RemoveSpec


def _rule_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        if len(value) == 1:
            return next(iter(value))
        return "invalid"
    if isinstance(value, PropagateRule | InsertRule | RemoveRule):
        return next(iter(type(value).model_fields))
    return None


HeaderRule = Annotated[
    Annotated[PropagateRule, Tag("propagate")]
    | Annotated[InsertRule, Tag("insert")]
    | Annotated[RemoveRule, Tag("remove")],
    Discriminator(
        _rule_kind,
        custom_error_type="header_rule",
        custom_error_message=(
            "each header rule is a mapping with exactly one key: propagate, insert or remove"
        ),
    ),
]


class HeaderRules(StrictModel):
    request: list[HeaderRule] = Field(default_factory=list)


class HeadersConfig(StrictModel):
    """``headers``: what the router sends to subgraphs from the client's headers."""

    all: HeaderRules = Field(default_factory=HeaderRules)
    subgraphs: dict[str, HeaderRules] = Field(default_factory=dict)


RawHeaders = list[tuple[bytes, bytes]]
_Op = Callable[[dict[str, list[str]], dict[str, str]], None]


def _compile(rule: PropagateRule | InsertRule | RemoveRule) -> _Op:
    if isinstance(rule, PropagateRule):
        spec = rule.propagate
        if spec.named is not None:
            source, target, default = spec.named, spec.rename or spec.named, spec.default

            def propagate_named(client: dict[str, list[str]], out: dict[str, str]) -> None:
                values = client.get(source)
                if values:
                    out[target] = ", ".join(values)
                elif default is not None:
                    out[target] = default

            return propagate_named
        pattern = re.compile(spec.matching or "")

        def propagate_matching(client: dict[str, list[str]], out: dict[str, str]) -> None:
            for name, values in client.items():
                if name not in RESERVED_HEADERS and pattern.fullmatch(name):
                    out[name] = ", ".join(values)

        return propagate_matching
    if isinstance(rule, InsertRule):
        name, value = rule.insert.name, rule.insert.value

        def insert(client: dict[str, list[str]], out: dict[str, str]) -> None:
            out[name] = value

        return insert
    spec_r = rule.remove
    if spec_r.named is not None:
        named = spec_r.named

        def remove_named(client: dict[str, list[str]], out: dict[str, str]) -> None:
            out.pop(named, None)

        return remove_named
    removal = re.compile(spec_r.matching or "")

    def remove_matching(client: dict[str, list[str]], out: dict[str, str]) -> None:
        for name in [n for n in out if removal.fullmatch(n)]:
            del out[name]

    return remove_matching


class HeaderPropagation:
    """Computes the headers for each subgraph request from the client's request headers."""

    def __init__(self, config: HeadersConfig) -> None:
        self._all = [_compile(r) for r in config.all.request]
        self._per_subgraph = {
            name: self._all + [_compile(r) for r in rules.request]
            for name, rules in config.subgraphs.items()
        }
        self.enabled = bool(self._all) or any(self._per_subgraph.values())

    def apply(self, client: dict[str, list[str]], subgraph: str, out: dict[str, str]) -> None:
        """Run the rules for ``subgraph`` over the client's headers into ``out``."""
        for op in self._per_subgraph.get(subgraph, self._all):
            op(client, out)

    def for_request(self, raw: RawHeaders) -> Callable[[str], dict[str, str]]:
        """A ``headers_for(subgraph_name)`` function for one client request."""
        if not self.enabled:
            return _no_headers
        client = client_headers(raw)
        cache: dict[str, dict[str, str]] = {}

        def headers_for(subgraph: str) -> dict[str, str]:
            found = cache.get(subgraph)
            if found is None:
                found = {}
                self.apply(client, subgraph, found)
                cache[subgraph] = found
            return dict(found)

        return headers_for


def client_headers(raw: RawHeaders) -> dict[str, list[str]]:
    """The client's headers by (lower-case) name, every value kept in order."""
    client: dict[str, list[str]] = {}
    for name_b, value_b in raw:
        client.setdefault(name_b.decode("latin-1"), []).append(value_b.decode("latin-1"))
    return client


def _no_headers(subgraph: str) -> dict[str, str]:
    return {}


class HeadersStage(Stage):
    """``headers``: the propagation rules, applied to every subgraph request."""

    name = "headers"

    def __init__(self, propagation: HeaderPropagation) -> None:
        self.propagation = propagation

    def subgraph_headers(
        self, request: RouterRequest, subgraph: str, headers: dict[str, str]
    ) -> None:
        client = request.context.get(self.name)
        if client is None:
            client = request.context[self.name] = client_headers(request.headers)
        self.propagation.apply(client, subgraph, headers)
