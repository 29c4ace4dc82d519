"""``authorization``: Apollo Router's authorization plugin (its keys), as a pipeline stage.

After the operation is validated and before it is planned, the stage removes what the
caller may not read according to the supergraph's ``@authenticated``, ``@requiresScopes``
and ``@policy`` (graph/authorization/): removed fields are not fetched and come back null
with an ``UNAUTHORIZED_FIELD_OR_TYPE`` error at their path, or, with
``directives.reject_unauthorized``, the whole operation is refused. ``require_authentication``
refuses anonymous callers outright (401). ``@policy`` names are granted by rules written here
(``directives.policies``) or by a custom evaluator passed to the stage."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from graph.authorization import UNAUTHORIZED, Access, Authorizer, Decision, Needs
from graph.authorization.policies import PolicyEvaluator, PolicyRule, RulePolicies
from graph.execution.errors import RequestError
from graph.http import HttpError
from graph.plugins.base import StrictModel
from graph.serving.stage import Stage

if TYPE_CHECKING:
    from graph.execution.gateway import Gateway, PreparedOperation
    from graph.serving.request import RouterRequest

logger = logging.getLogger("graph.authorization")


class ErrorsResponse(StrEnum):
    ERRORS = "errors"  # one GraphQL error per removed path (Apollo Router's default)
    EXTENSIONS = "extensions"  # the same errors under extensions.authorizationErrors
    DISABLED = "disabled"  # nothing said to the client


class UserScopes(StrEnum):
    CLAIM = "claim"  # a user (JWT) caller holds the scopes of its `scope` claim (Apollo)
    ALL = "all"  # a user session holds every scope; only API keys are limited by scopes


class AuthorizationErrors(StrictModel):
    log: bool = True
    response: ErrorsResponse = ErrorsResponse.ERRORS


class PolicyRuleConfig(StrictModel):
    """Conditions on the caller that must all hold (leave one out: no condition)."""

    kinds: list[str] = Field(default_factory=list)
    tiers: list[str] = Field(default_factory=list)
    scopes: list[str] = Field(default_factory=list)
    clients: list[str] = Field(default_factory=list)
    claims: dict[str, Any] = Field(default_factory=dict)

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, kinds: list[str]) -> list[str]:
        unknown = sorted(set(kinds) - {"anonymous", "user", "api_key"})
        if unknown:
            raise ValueError(f"unknown caller kinds {unknown}; use anonymous, user or api_key")
        return kinds

    def rule(self) -> PolicyRule:
        return PolicyRule(
            kinds=frozenset(self.kinds),
            tiers=frozenset(self.tiers),
            scopes=frozenset(self.scopes),
            clients=frozenset(self.clients),
            claims=tuple(sorted(self.claims.items())),
        )


class AuthorizationDirectives(StrictModel):
    enabled: bool = True
    reject_unauthorized: bool = False
    dry_run: bool = False
    errors: AuthorizationErrors = Field(default_factory=AuthorizationErrors)
    user_scopes: UserScopes = UserScopes.CLAIM
    # @policy name -> one rule, or several (any one of them grants the policy)
    policies: dict[str, PolicyRuleConfig | list[PolicyRuleConfig]] = Field(default_factory=dict)

    def evaluator(self) -> RulePolicies:
        return RulePolicies(
            {
                name: [r.rule() for r in (rules if isinstance(rules, list) else [rules])]
                for name, rules in self.policies.items()
            }
        )


class AuthorizationConfig(StrictModel):
    """``authorization`` in router.yaml."""

    require_authentication: bool = False
    directives: AuthorizationDirectives = Field(default_factory=AuthorizationDirectives)


class AuthorizationStage(Stage):
    """Authorization before planning (see the module docstring)."""

    name = "authorization"

    def __init__(
        self,
        config: AuthorizationConfig,
        gateway: Gateway,
        evaluator: PolicyEvaluator | None = None,
    ) -> None:
        from graph.supergraph.features import SpecDirectives

        self.config = config
        self.directives = config.directives
        self.authorizer = Authorizer(
            gateway.api_schema, SpecDirectives.read(gateway.supergraph.document)
        )
        rules = self.directives.evaluator()
        self.evaluate: PolicyEvaluator = evaluator or rules
        if evaluator is None:
            used = {
                p
                for r in (
                    *self.authorizer.types.values(),
                    *self.authorizer.fields.values(),
                )
                for p in r.policy_names
            }
            for name in rules.unknown(used):
                logger.warning(
                    "the supergraph uses @policy %r but authorization.directives.policies "
                    "defines no rule for it: it is never granted",
                    name,
                )

    @property
    def active(self) -> bool:
        return self.config.require_authentication or (
            self.directives.enabled and self.authorizer.enabled
        )

    async def on_request(self, request: RouterRequest) -> None:
        """``require_authentication``: anonymous callers are refused before their operation
        is even parsed (authentication, an earlier stage, has set the principal)."""
        if self.config.require_authentication and not request.principal.is_authenticated:
            raise HttpError(
                401,
                "This router requires authentication: send a credential (an access token or "
                "an API key).",
                "UNAUTHENTICATED",
                [(b"www-authenticate", b"Bearer")],
            )

    async def on_operation(self, request: RouterRequest) -> None:
        if not (self.directives.enabled and self.authorizer.enabled):
            return
        prepared = request.prepared
        assert prepared is not None
        needs = self._needs(prepared)
        if not needs.any:
            return
        access = await self._access(request, needs)
        decision = self._decide(prepared, access)
        if not decision.filtered:
            return
        errors = decision.errors()
        if self.directives.errors.log:
            logger.info(
                "authorization removed %s from operation %s",
                ", ".join("/".join(p) or "(the operation)" for p in decision.paths),
                prepared.normalized.name or "(anonymous)",
            )
        if self.directives.reject_unauthorized and not self.directives.dry_run:
            # The whole operation is refused; the paths are said as errors.response says.
            mode = self.directives.errors.response
            if mode is ErrorsResponse.EXTENSIONS:
                request.extensions["authorizationErrors"] = errors
            raise RequestError(
                errors if mode is ErrorsResponse.ERRORS and errors else [_one_error()],
                UNAUTHORIZED,
            )
        self._report(request, errors)
        if self.directives.dry_run:
            return
        if prepared.operation_type == "subscription" and decision.empty:
            raise RequestError(errors or [_one_error()], UNAUTHORIZED)
        request.prepared = request.gateway.restrict_selections(
            prepared,
            ("authorization", access),
            decision.plan_selections,
            decision.shape_selections,
        )

    # -- helpers ---------------------------------------------------------------------------
    def _needs(self, prepared: PreparedOperation) -> Needs:
        key = "authorization.needs"
        found = prepared.shape_cache.get(key)
        if found is None:
            found = self.authorizer.needs(prepared.normalized.selections, prepared.root_type)
            prepared.shape_cache[key] = found
        return found

    async def _access(self, request: RouterRequest, needs: Needs) -> Access:
        """The caller's access, narrowed to what the operation can touch (so that callers
        who differ only in what the operation does not use share one decision)."""
        principal = request.principal
        every_scope = self.directives.user_scopes is UserScopes.ALL and principal.kind == "user"
        scopes = needs.scopes if every_scope else needs.scopes & principal.scopes
        granted: frozenset[str] = frozenset()
        if needs.policies:
            answer = self.evaluate(needs.policies, principal)
            if inspect.isawaitable(answer):
                answer = await answer
            granted = frozenset(n for n in needs.policies if _granted(answer, n))
        return Access(principal.is_authenticated, frozenset(scopes), granted)

    def _decide(self, prepared: PreparedOperation, access: Access) -> Decision:
        key = ("authorization.decision", access)
        found = prepared.shape_cache.get(key)
        if found is None:
            found = self.authorizer.decide(
                prepared.normalized.selections,
                prepared.root_type,
                access,
                dry_run=self.directives.dry_run,
            )
            if len(prepared.shape_cache) < 256:
                prepared.shape_cache[key] = found
        return found

    def _report(self, request: RouterRequest, errors: list[dict[str, Any]]) -> None:
        mode = self.directives.errors.response
        if mode is ErrorsResponse.ERRORS:
            request.context[self.name] = errors
        elif mode is ErrorsResponse.EXTENSIONS:
            request.extensions["authorizationErrors"] = errors

    def on_response(self, request: RouterRequest, body: dict[str, Any], status: int | None) -> None:
        errors = request.context.get(self.name)
        if not errors or status is not None or "data" not in body:
            return
        existing = body.get("errors")
        body["errors"] = [*errors, *existing] if isinstance(existing, list) else list(errors)


def _granted(answer: Mapping[str, bool], name: str) -> bool:
    return answer.get(name) is True


def _one_error() -> dict[str, Any]:
    return {
        "message": "The operation reads fields or types this caller is not authorized for.",
        "extensions": {"code": UNAUTHORIZED},
    }
