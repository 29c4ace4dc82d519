"""Errors raised by composition: one exception carrying every issue found."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class CompositionIssue:
    """One problem found while composing, with the elements it is about.

    `code` follows the error codes of Apollo's composition (``KEY_INVALID_FIELDS``,
    ``INVALID_FIELD_SHARING``, ...) so that an operator can look them up.
    """

    code: str
    message: str
    subgraphs: tuple[str, ...] = ()
    type_name: str | None = None
    field_name: str | None = None

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class CompositionFailure(Exception):
    """Base class of every error the composition package raises."""


@dataclass
class CompositionError(CompositionFailure):
    """The subgraphs do not compose; `issues` lists every problem found."""

    issues: list[CompositionIssue] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.__str__())

    def __str__(self) -> str:
        lines = [f"composition failed with {len(self.issues)} issue(s):"]
        lines.extend(f"  - {issue}" for issue in self.issues)
        return "\n".join(lines)

    @property
    def codes(self) -> list[str]:
        return [issue.code for issue in self.issues]


class SubgraphSourceError(CompositionFailure):
    """A subgraph's SDL could not be obtained (unreachable URL, missing file, bad answer)."""


class IssueCollector:
    """Accumulates issues so that composition reports all of them at once."""

    def __init__(self) -> None:
        self.issues: list[CompositionIssue] = []

    def add(
        self,
        code: str,
        message: str,
        *,
        subgraphs: Iterable[str] = (),
        type_name: str | None = None,
        field_name: str | None = None,
    ) -> None:
        self.issues.append(CompositionIssue(code, message, tuple(subgraphs), type_name, field_name))

    def raise_if_any(self) -> None:
        if self.issues:
            raise CompositionError(list(self.issues))
