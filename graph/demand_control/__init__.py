"""Demand control: the cost of operations, before (estimated) and after (actual) execution."""

from graph.demand_control.cost import MUTATION_COST, CostCalculator, CostError

__all__ = ["MUTATION_COST", "CostCalculator", "CostError"]
