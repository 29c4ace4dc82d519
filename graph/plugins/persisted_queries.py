"""Persisted queries from local manifests, and the operation safelist (Apollo Router's
``persisted_queries``).

Partners can be held to a set of known operations: the manifest (Apollo's
``apollo-persisted-query-manifest`` JSON, made by ``generate-persisted-query-manifest`` or by
hand) lists each operation's ``id`` and ``body``. A client sends
``extensions.persistedQuery.sha256Hash = <id>`` and no text; with ``safelist.enabled`` any
operation text sent in full must be one of the manifest's bodies (compared after parsing
and printing, so whitespace and comments do not matter), and with ``safelist.require_id``
only ids are accepted at all.
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


class PersistedQueriesConfig(StrictModel):
    """``persisted_queries``: operations known by id, and optionally only those."""

    enabled: bool = False
    log_unknown: bool = False
    safelist: SafelistConfig = Field(default_factory=SafelistConfig)
    local_manifests: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> PersistedQueriesConfig:
        if self.enabled and not self.local_manifests:
            raise ValueError("persisted_queries.enabled needs at least one local_manifests file")
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


class PersistedQueryManifest:
    """Resolves ids to operation text and enforces the safelist."""

    def __init__(self, config: PersistedQueriesConfig) -> None:
        self.enabled = config.enabled
        self.safelist = config.safelist.enabled or config.safelist.require_id
        self.require_id = config.safelist.require_id
        self.log_unknown = config.log_unknown
        self.by_id = load_manifests(config.local_manifests) if config.enabled else {}
        self.bodies = set(self.by_id.values())
        self.canonical = {c for c in map(_canonical, self.bodies) if c is not None}
        self._checked: dict[str, bool] = {}

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
            raise HttpError(
                400,
                "This operation is not in the router's safelist of persisted operations.",
                "QUERY_NOT_IN_SAFELIST",
            )
        if self.log_unknown and params.query not in self.bodies:
            logger.warning("operation not in the persisted query manifests: %s", params.query)
        return None

    def _in_safelist(self, query: str) -> bool:
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


class PersistedQueriesStage(Stage):
    """Operation ids from the manifests, and the safelist."""

    name = "persisted_queries"

    def __init__(self, manifest: PersistedQueryManifest) -> None:
        self.manifest = manifest

    async def on_request(self, request: RouterRequest) -> None:
        query = self.manifest.resolve(request.params)
        if query is not None:
            request.query = query
