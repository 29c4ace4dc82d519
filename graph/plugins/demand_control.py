"""``demand_control``: Apollo Router's demand control (its keys), as a pipeline stage.

Before planning, the operation's cost is estimated from the supergraph's ``@cost`` and
``@listSize`` (graph/demand_control/). In ``enforce`` mode an operation over the maximum is
refused with ``COST_ESTIMATED_TOO_EXPENSIVE``; in ``measure`` mode it runs and the cost is
only recorded. The maximum may differ per tier of the caller (``max_per_tier``). After
execution the actual cost is computed from the response. Both are put in the response's
``extensions.cost`` when the client asks (``"extensions": {"cost": true}`` in its request) or
always, as ``cost_in_extensions`` says."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from graphql import VariableDefinitionNode
from pydantic import Field, model_validator

from graph.demand_control import CostCalculator, CostError
from graph.execution.errors import RequestError
from graph.plugins.base import StrictModel
from graph.serving.stage import Stage

if TYPE_CHECKING:
    from graph.execution.gateway import Gateway
    from graph.serving.request import RouterRequest

TOO_EXPENSIVE = "COST_ESTIMATED_TOO_EXPENSIVE"
PARSE_FAILURE = "COST_QUERY_PARSE_FAILURE"


class Mode(StrEnum):
    MEASURE = "measure"
    ENFORCE = "enforce"


class CostInExtensions(StrEnum):
    ON_REQUEST = "on_request"  # when the request says "extensions": {"cost": true}
    ALWAYS = "always"
    NEVER = "never"


class StaticEstimated(StrictModel):
    list_size: int = Field(ge=0)  # items assumed in a list without @listSize
    max: float = Field(ge=0)  # the largest estimated cost admitted
    max_per_tier: dict[str, float] = Field(default_factory=dict)  # a caller's tier -> max

    @model_validator(mode="after")
    def _non_negative(self) -> StaticEstimated:
        negative = sorted(t for t, m in self.max_per_tier.items() if m < 0)
        if negative:
            raise ValueError(f"max_per_tier must not be negative (tiers {negative})")
        return self


class Strategy(StrictModel):
    static_estimated: StaticEstimated


class DemandControlConfig(StrictModel):
    """``demand_control`` in router.yaml."""

    enabled: bool = False
    mode: Mode = Mode.MEASURE
    strategy: Strategy | None = None
    cost_in_extensions: CostInExtensions = CostInExtensions.ON_REQUEST

    @model_validator(mode="after")
    def _strategy_when_enabled(self) -> DemandControlConfig:
        if self.enabled and self.strategy is None:
            raise ValueError(
                "demand_control.enabled needs a strategy: set "
                "demand_control.strategy.static_estimated.list_size and .max"
            )
        return self


class DemandControlStage(Stage):
    """Estimated cost before planning (refused over the maximum in enforce mode), actual
    cost after execution."""

    name = "demand_control"

    def __init__(self, config: DemandControlConfig, gateway: Gateway) -> None:
        from graph.supergraph.features import SpecDirectives

        assert config.strategy is not None
        self.config = config
        self.strategy = config.strategy.static_estimated
        self.calculator = CostCalculator(
            gateway.api_schema, SpecDirectives.read(gateway.supergraph.document), gateway.supergraph
        )

    def maximum(self, tier: str | None) -> float:
        if tier is not None and tier in self.strategy.max_per_tier:
            return self.strategy.max_per_tier[tier]
        return self.strategy.max

    async def on_operation(self, request: RouterRequest) -> None:
        prepared = request.prepared
        assert prepared is not None
        maximum = self.maximum(request.principal.tier)
        report: dict[str, Any] = {"strategy": "static_estimated", "max": maximum}
        request.context[self.name] = report
        enforce = self.config.mode is Mode.ENFORCE
        try:
            estimated = self._estimate(request)
        except CostError as exc:
            report["result"] = PARSE_FAILURE
            if enforce:
                raise RequestError(
                    [
                        {
                            "message": f"The operation's cost cannot be estimated: {exc}.",
                            "extensions": {"code": PARSE_FAILURE},
                        }
                    ],
                    PARSE_FAILURE,
                ) from None
            return
        report["estimated"] = estimated
        if estimated > maximum:
            report["result"] = TOO_EXPENSIVE
            if enforce:
                raise RequestError(
                    [
                        {
                            "message": f"query estimated cost {_number(estimated)} exceeded "
                            f"configured maximum {_number(maximum)}",
                            "extensions": {
                                "code": TOO_EXPENSIVE,
                                "cost.estimated": estimated,
                                "cost.max": maximum,
                            },
                        }
                    ],
                    TOO_EXPENSIVE,
                )
        else:
            report["result"] = "COST_OK"

    def _estimate(self, request: RouterRequest) -> float:
        """The estimate, kept with the operation per cost key of its variables
        (:func:`cost_key`: what of the variables the estimate reads), so one operation sent
        with other ids, texts or dates is costed once."""
        prepared = request.prepared
        assert prepared is not None
        cache = prepared.shape_cache.get(self.name)
        if cache is None:
            cache = prepared.shape_cache[self.name] = {}
        defs = prepared.operation.variable_definitions
        key = cost_key(defs, request.params.variables) if defs else ()
        found = cache.get(key)
        if found is not None:
            if isinstance(found, CostError):
                raise found.with_traceback(None)
            return float(found)
        if len(cache) >= _COSTS_PER_OPERATION:
            cache.clear()
        try:
            estimated = self.calculator.estimate(
                prepared.document,
                prepared.operation,
                request.params.variables,
                self.strategy.list_size,
            )
        except CostError as exc:
            cache[key] = exc
            raise
        cache[key] = estimated
        return estimated

    def on_response(self, request: RouterRequest, body: dict[str, Any], status: int | None) -> None:
        report = request.context.get(self.name)
        if report is None or not self._wanted(request):
            return
        cost = dict(report)
        data = body.get("data")
        prepared = request.prepared
        if isinstance(data, dict) and prepared is not None:
            cost["actual"] = self.calculator.actual(
                prepared.document, prepared.operation, data, request.params.variables
            )
        extensions = body.get("extensions")
        body["extensions"] = {**(extensions if isinstance(extensions, dict) else {}), "cost": cost}

    def _wanted(self, request: RouterRequest) -> bool:
        setting = self.config.cost_in_extensions
        if setting is CostInExtensions.ALWAYS:
            return True
        if setting is CostInExtensions.NEVER:
            return False
        asked = request.params.extensions
        return isinstance(asked, dict) and asked.get("cost") is True


# estimates kept per operation (one per cost key; cleared when full)
_COSTS_PER_OPERATION = 256


def cost_key(
    definitions: Sequence[VariableDefinitionNode], variables: Mapping[str, Any] | None
) -> tuple[Any, ...]:
    """What of ``variables`` the static estimate depends on (graph/demand_control/cost.py):
    whether each value is null, a top-level integer's value (a slicing argument), and the
    structure of lists and input objects (their keys in order, their items, which nested
    values are null); never other scalars' values. Equal keys give equal estimates."""
    values = variables or {}
    key: list[Any] = []
    for definition in definitions:
        v = values.get(definition.variable.name.value)
        if type(v) is int:
            key.append(v)
        else:
            key.append(_shape_of(v))
    return tuple(key)


def _shape_of(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        return ("l", *(_shape_of(v) for v in value))
    if isinstance(value, dict):
        return ("d", *((k, _shape_of(v)) for k, v in value.items()))
    return "s"  # a scalar: only its presence counts


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)
