"""Errors raised by the planner."""


class PlanningError(Exception):
    """The operation cannot be planned against this supergraph."""
