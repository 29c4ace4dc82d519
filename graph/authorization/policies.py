"""`@policy` evaluation: which of the policies an operation uses are granted to a caller.

Apollo Router leaves this to a coprocessor or a Rhai script; here it is a hook, a
:class:`PolicyEvaluator`, with one built in: :class:`RulePolicies`, rules written in
router.yaml (``authorization.directives.policies``). A rule lists conditions on the caller
(its kind, tier, scopes, client, JWT claims); a policy is granted when all conditions of
one of its rules hold. A policy with no rule is never granted."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class PrincipalLike(Protocol):
    """What policies may read of the caller (graph.serving.request.Principal has it)."""

    @property
    def kind(self) -> str: ...  # "anonymous" | "user" | "api_key"

    @property
    def id(self) -> str | None: ...

    @property
    def user_id(self) -> str | None: ...

    @property
    def tier(self) -> str | None: ...

    @property
    def scopes(self) -> frozenset[str]: ...

    @property
    def client_name(self) -> str | None: ...

    @property
    def claims(self) -> Mapping[str, Any]: ...


PolicyEvaluator = Callable[
    [frozenset[str], PrincipalLike], Mapping[str, bool] | Awaitable[Mapping[str, bool]]
]
"""``evaluator(policy_names, principal)`` -> ``{name: granted}`` (may be async). Names it
leaves out are denied."""


@dataclass(frozen=True)
class PolicyRule:
    """Conditions that must all hold (an empty condition is no condition)."""

    kinds: frozenset[str] = frozenset()
    tiers: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()  # every one of them
    clients: frozenset[str] = frozenset()
    claims: tuple[tuple[str, Any], ...] = ()  # claim -> value (equal, or contained in a list)

    def matches(self, principal: PrincipalLike) -> bool:
        if self.kinds and principal.kind not in self.kinds:
            return False
        if self.tiers and principal.tier not in self.tiers:
            return False
        if self.scopes and not self.scopes <= principal.scopes:
            return False
        if self.clients and principal.client_name not in self.clients:
            return False
        for name, expected in self.claims:
            value = principal.claims.get(name)
            if value != expected and not (isinstance(value, list) and expected in value):
                return False
        return True


class RulePolicies:
    """The built-in evaluator: policy name -> rules (any one matching grants it)."""

    def __init__(self, rules: Mapping[str, Iterable[PolicyRule]]) -> None:
        self.rules = {name: tuple(r) for name, r in rules.items()}

    def __call__(self, names: frozenset[str], principal: PrincipalLike) -> dict[str, bool]:
        return {
            name: any(rule.matches(principal) for rule in self.rules.get(name, ()))
            for name in names
        }

    def unknown(self, used: Iterable[str]) -> list[str]:
        """The policies a supergraph uses that no rule defines (never granted)."""
        return sorted(set(used) - set(self.rules))
