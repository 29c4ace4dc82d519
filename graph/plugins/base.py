"""Shared pieces of the plugin config models: a strict base model and durations."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|us|µs|ns|s|m|h|d)")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}


class StrictModel(BaseModel):
    """A config section: unknown keys are an error, values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_duration(value: object) -> float:
    """Turn a humantime duration such as ``"30s"``, ``"1m30s"`` or ``"500ms"`` into seconds.

    Bare numbers are seconds. Raises ``ValueError`` with what went wrong.
    """
    if isinstance(value, bool):
        raise ValueError("a duration is a string such as '30s' or '500ms', not a boolean")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        if not text:
            raise ValueError("a duration must not be empty; write e.g. '30s' or '500ms'")
        position = 0
        seconds = 0.0
        for match in _DURATION_PART.finditer(text):
            if match.start() != position:
                break
            seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            position = match.end()
        if position != len(text):
            raise ValueError(
                f"{value!r} is not a duration; write a number with a unit (ns, us, ms, s, m, "
                "h, d), e.g. '30s', '1m30s' or '500ms'"
            )
    else:
        raise ValueError("a duration is a string such as '30s' or '500ms'")
    if seconds <= 0:
        raise ValueError(f"a duration must be greater than zero, got {value!r}")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds, written in router.yaml as a humantime string (``"30s"``, ``"500ms"``)."""
