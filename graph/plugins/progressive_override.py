"""Progressive ``@override`` (Federation 2.7): which override labels are on for a request.

A field a subgraph takes over with ``@override(from: "old", label: "...")`` is resolved by the
new subgraph when its label is on, by the old one when it is off. Per operation, this stage
decides each label the operation uses:

- ``override_labels.<label>`` in router.yaml, when set: ``true`` / ``false`` (always on /
  off), or a rule: ``percent`` (on for that share of operations), ``header`` (on when the
  request has that header, with the value ``equals`` when given);
- otherwise ``percent(N)`` is on for N% of operations (an independent roll per operation, as
  Apollo Router does), and any other label is off.

The gateway plans an operation once per set of labels that are on (only labels the operation
uses count), and keeps each plan with the operation: a given set always gives the same plan.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping

from pydantic import Field, model_validator

from graph.plugins.base import StrictModel
from graph.serving.request import RouterRequest
from graph.serving.stage import Stage

_PERCENT = re.compile(r"^percent\((?P<n>\d{1,3}(?:\.\d{1,8})?)\)$")


def percent_of(label: str) -> float | None:
    """The N of a ``percent(N)`` label (None for any other label)."""
    match = _PERCENT.match(label)
    if match is None:
        return None
    value = float(match.group("n"))
    return value if value <= 100 else None


class LabelRule(StrictModel):
    """When a label is on: for ``percent`` of operations, and/or when the request has the
    ``header`` (with the value ``equals``, if given). With both, both must hold."""

    percent: float | None = Field(default=None, ge=0, le=100)
    header: str | None = None
    equals: str | None = None

    @model_validator(mode="after")
    def _something(self) -> LabelRule:
        if self.percent is None and self.header is None:
            raise ValueError("a label rule needs `percent` and/or `header`")
        if self.equals is not None and self.header is None:
            raise ValueError("`equals` needs the `header` it compares")
        return self


LabelSetting = bool | LabelRule
OverrideLabelsConfig = dict[str, LabelSetting]


class ProgressiveOverrideStage(Stage):
    """Plans the operation with the labels that are on (the last ``on_operation`` stage:
    after authorization has decided what is planned)."""

    name = "progressive_override"

    def __init__(
        self,
        config: Mapping[str, LabelSetting],
        roll: Callable[[], float] = random.random,
    ) -> None:
        self.config = dict(config)
        self.roll = roll  # a number in [0, 1)
        self._headers = {
            label: rule.header.lower().encode("latin-1")
            for label, rule in self.config.items()
            if isinstance(rule, LabelRule) and rule.header is not None
        }

    async def on_operation(self, request: RouterRequest) -> None:
        prepared = request.prepared
        if prepared is None:
            return
        labels = request.gateway.override_labels_of(prepared)
        if not labels:
            return
        on = frozenset(label for label in labels if self._on(label, request))
        if on:
            request.prepared = request.gateway.with_override_labels(prepared, on)
            request.context[self.name] = on

    def _on(self, label: str, request: RouterRequest) -> bool:
        setting = self.config.get(label)
        if isinstance(setting, bool):
            return setting
        if setting is None:
            share = percent_of(label)
            return share is not None and self.roll() * 100 < share
        if setting.header is not None:
            value = request.header(self._headers[label])
            if value is None:
                return False
            if setting.equals is not None and value.decode("latin-1") != setting.equals:
                return False
        return setting.percent is None or self.roll() * 100 < setting.percent
