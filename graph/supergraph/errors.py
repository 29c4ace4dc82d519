"""Errors raised while loading a supergraph."""


class SupergraphError(Exception):
    """The supergraph SDL cannot be loaded (bad syntax, not a Federation 2 supergraph)."""
