"""Authorization directives (`@authenticated`, `@requiresScopes`, `@policy`) enforced on
operations before they are planned."""

from graph.authorization.filter import MESSAGE, UNAUTHORIZED, Access, Authorizer, Decision, Needs

__all__ = ["MESSAGE", "UNAUTHORIZED", "Access", "Authorizer", "Decision", "Needs"]
