"""Auth errors: the platform's AuthError (with a GraphQL `extensions.code`)."""

from puppies.errors import AuthError

__all__ = ["AuthError"]
