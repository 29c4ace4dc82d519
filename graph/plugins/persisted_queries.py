"""Persisted queries from local manifests, and the operation safelist (Apollo Router's
``persisted_queries``).

Partners can be held to a set of known operations: the manifest (Apollo's
``apollo-persisted-query-manifest`` JSON, made by ``generate-persisted-query-manifest`` or by
hand) lists each operation's ``id`` and ``body``. A client sends
``extensions.persistedQuery.sha256Hash = <id>`` and no text; with ``safelist.enabled`` any
operation text sent in full must be one of the manifest's bodies (compared after parsing
and printing, so whitespace and comments do not matter), and with ``safelist.require_id``
only ids are accepted at all.

Per client (Puppies): each client (the ``client_name`` of the caller's principal: an API
key's client, a token's ``client_id``/``azp``) can have its own manifest, which is then its
safelist: any operation not in it, sent as an id or as text, is refused with
``PERSISTED_QUERY_NOT_IN_LIST`` and logged; ``require_id`` per client. Callers of a tier
(``tiers.<tier>``) can be held to the shared manifests the same way, so e.g. every ``free``
key must send ids. A caller with no client and no tier rule gets the global behaviour.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import orjson
from graphql import GraphQLError, parse, print_ast
from pydantic import Field, model_validator

from graph.errors import ConfigError
from graph.http import GraphQLParams, HttpError
from graph.plugins.base import StrictModel
from graph.serving.request import RouterRequest
from graph.serving.stage import Stage

logger = logging.getLogger("graph.persisted_queries")

MANIFEST_FORMAT = "apollo-persisted-query-manifest"
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


class SafelistConfig(StrictModel):
    enabled: bool = False
    require_id: bool = False


class ClientListConfig(StrictModel):
    """``persisted_queries.clients.<name>``: a client's own manifest, its safelist."""

    local_manifests: list[str] = Field(min_length=1)
    require_id: bool = False


class PersistedQueriesConfig(StrictModel):
    """``persisted_queries``: operations known by id, and optionally only those."""

    enabled: bool = False
    log_unknown: bool = False
    safelist: SafelistConfig = Field(default_factory=SafelistConfig)
    local_manifests: list[str] = Field(default_factory=list)
    clients: dict[str, ClientListConfig] = Field(default_factory=dict)
    tiers: dict[str, SafelistConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> PersistedQueriesConfig:
        if self.enabled and not self.local_manifests and not self.clients:
            raise ValueError(
                "persisted_queries.enabled needs at least one local_manifests file (or clients)"
            )
        if (self.clients or self.tiers) and not self.enabled:
            raise ValueError(
                "persisted_queries.clients and .tiers need persisted_queries.enabled: true"
            )
        if self.tiers and not self.local_manifests:
            raise ValueError(
                "persisted_queries.tiers hold callers to local_manifests: list at least one"
            )
        if (self.safelist.enabled or self.safelist.require_id) and not self.enabled:
            raise ValueError("persisted_queries.safelist needs persisted_queries.enabled: true")
        return self


def _canonical(body: str) -> str | None:
    try:
        return print_ast(parse(body, no_location=True))
    except GraphQLError:
        return None


def load_manifests(paths: list[str]) -> dict[str, str]:
    """id -> body from Apollo persisted-query manifests; ``ConfigError`` naming the problem."""
    operations: dict[str, str] = {}
    for path in paths:
        try:
            data = orjson.loads(Path(path).read_bytes())
        except OSError as exc:
            raise ConfigError(
                f"cannot read persisted query manifest {path}: {exc.strerror or exc}"
            ) from None
        except orjson.JSONDecodeError as exc:
            raise ConfigError(f"persisted query manifest {path} is not JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            raise ConfigError(
                f"persisted query manifest {path} is not an {MANIFEST_FORMAT!r} (its 'format' "
                "key must say so)"
            )
        entries = data.get("operations")
        if not isinstance(entries, list):
            raise ConfigError(f"persisted query manifest {path} has no 'operations' list")
        for index, entry in enumerate(entries):
            if not (
                isinstance(entry, dict)
                and isinstance(entry.get("id"), str)
                and isinstance(entry.get("body"), str)
            ):
                raise ConfigError(
                    f"persisted query manifest {path}: operations[{index}] needs string 'id' "
                    "and 'body'"
                )
            if _canonical(entry["body"]) is None:
                raise ConfigError(
                    f"persisted query manifest {path}: operations[{index}] ({entry['id']}) "
                    "does not parse as GraphQL"
                )
            known = operations.get(entry["id"])
            if known is not None and known != entry["body"]:
                raise ConfigError(
                    f"persisted query manifest {path}: id {entry['id']} is listed twice with "
                    "different bodies"
                )
            operations[entry["id"]] = entry["body"]
    return operations


class OperationList:
    """The operations of some manifests: by id, and "is this text one of them"."""

    def __init__(self, by_id: dict[str, str]) -> None:
        self.by_id = by_id
        self.bodies = set(by_id.values())
        self.canonical = {c for c in map(_canonical, self.bodies) if c is not None}
        self._checked: dict[str, bool] = {}

    def contains(self, query: str) -> bool:
        """The text is one of the bodies (compared after parsing and printing)."""
        if query in self.bodies:
            return True
        found = self._checked.get(query)
        if found is None:
            canonical = _canonical(query)
            found = canonical is not None and canonical in self.canonical
            if len(self._checked) > 4096:
                self._checked.clear()
            self._checked[query] = found
        return found


class ListPolicy:
    """A caller held to a persisted query list (a client's, or a tier's): only operations in
    it run; an id or a text that is not in it is PERSISTED_QUERY_NOT_IN_LIST, logged."""

    def __init__(self, operations: OperationList, require_id: bool, who: str) -> None:
        self.operations = operations
        self.require_id = require_id
        self.who = who  # "client 'acme'", "tier 'free'"

    def resolve(self, params: GraphQLParams) -> str:
        persisted: Any = (params.extensions or {}).get("persistedQuery")
        if isinstance(persisted, dict) and isinstance(persisted.get("sha256Hash"), str):
            op_id = persisted["sha256Hash"]
            body = self.operations.by_id.get(op_id)
            if body is not None:
                return body
            logger.warning("%s sent operation id %s, not in its list", self.who, op_id)
            raise HttpError(
                400,
                f"Operation id {op_id!r} is not in the persisted query list of {self.who}; "
                "send an id from that list.",
                "PERSISTED_QUERY_NOT_IN_LIST",
            )
        if params.query is None:  # pragma: no cover - params_from_mapping prevents it
            raise HttpError(400, "The request has no 'query' parameter.")
        if self.require_id:
            raise HttpError(
                400,
                f"Callers of {self.who} may only run persisted operations: send "
                "extensions.persistedQuery.sha256Hash with the operation's id instead of "
                "the operation text.",
                "PERSISTED_QUERY_ID_REQUIRED",
            )
        if not self.operations.contains(params.query):
            logger.warning("%s sent an operation not in its list: %s", self.who, params.query[:500])
            raise HttpError(
                400,
                f"This operation is not in the persisted query list of {self.who}.",
                "PERSISTED_QUERY_NOT_IN_LIST",
            )
        return params.query


class PersistedQueryManifest:
    """Resolves ids to operation text and enforces the safelist."""

    def __init__(self, config: PersistedQueriesConfig) -> None:
        self.enabled = config.enabled
        self.safelist = config.safelist.enabled or config.safelist.require_id
        self.require_id = config.safelist.require_id
        self.log_unknown = config.log_unknown
        self.list = OperationList(load_manifests(config.local_manifests) if config.enabled else {})
        self.by_id = self.list.by_id
        self.bodies = self.list.bodies

    def resolve(self, params: GraphQLParams) -> str | None:
        """The operation text for ``params`` when the manifest decides it; None to go on
        (automatic persisted queries, or the text as sent). Raises ``HttpError``."""
        if not self.enabled:
            return None
        persisted: Any = (params.extensions or {}).get("persistedQuery")
        if isinstance(persisted, dict) and isinstance(persisted.get("sha256Hash"), str):
            op_id = persisted["sha256Hash"]
            body = self.by_id.get(op_id)
            if body is not None:
                return body
            if not self.safelist and _HEX64.fullmatch(op_id):
                return None  # maybe an automatic persisted query: APQ decides
            # 200 with the code, as Apollo answers: the client may fall back to the text
            raise HttpError(200, "PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
        if params.query is None:
            return None
        if self.require_id:
            raise HttpError(
                400,
                "This router only runs persisted operations: send "
                "extensions.persistedQuery.sha256Hash with the operation's id instead of "
                "the operation text.",
                "PERSISTED_QUERY_ID_REQUIRED",
            )
        if self.safelist and not self._in_safelist(params.query):
            # one code for one meaning: the same as a client's or a tier's list refuses with
            logger.warning("an operation not in the safelist: %s", params.query[:500])
            raise HttpError(
                400,
                "This operation is not in the router's safelist of persisted operations.",
                "PERSISTED_QUERY_NOT_IN_LIST",
            )
        if self.log_unknown and params.query not in self.bodies:
            logger.warning("operation not in the persisted query manifests: %s", params.query)
        return None

    def _in_safelist(self, query: str) -> bool:
        return self.list.contains(query)


class PersistedQueriesStage(Stage):
    """Operation ids from the manifests, and the safelists (global, per client, per tier).
    After authentication: the caller's client and tier decide which list applies."""

    name = "persisted_queries"

    def __init__(self, config: PersistedQueriesConfig) -> None:
        self.manifest = PersistedQueryManifest(config)
        self.clients = {
            name: ListPolicy(
                OperationList(load_manifests(client.local_manifests)),
                client.require_id,
                f"client {name!r}",
            )
            for name, client in config.clients.items()
        }
        self.tiers = {
            tier: ListPolicy(self.manifest.list, rule.require_id, f"tier {tier!r}")
            for tier, rule in config.tiers.items()
            if rule.enabled or rule.require_id
        }

    async def on_request(self, request: RouterRequest) -> None:
        principal = request.principal
        policy = None
        if principal.client_name is not None:
            policy = self.clients.get(principal.client_name)
        if policy is None and principal.tier is not None:
            policy = self.tiers.get(principal.tier)
        if policy is not None:
            request.query = policy.resolve(request.params)
            return
        query = self.manifest.resolve(request.params)
        if query is not None:
            request.query = query
