"""GDPR: what a data export takes from every domain and what an account deletion does to it.

- `registry`: the rules, one per table and per S3 prefix, declared by each domain in
  `resolvers/<domain>/privacy.py` (`load()` imports them all).
- `tables`: the generic work over a rule (export rows, erase in batches, count what is left).
- `archive`: the export archive (a zip in S3).
- `erasure`: a domain's part of an account deletion, and the check that nothing is left.

The account-side bookkeeping (the export and deletion requests, the account being
disabled) is the users domain's: resolvers/users/exports.py and resolvers/users/deletion.py.
See docs/privacy.md.
"""

from __future__ import annotations

import importlib

from resolvers.privacy.registry import PRIVACY, Erase, ObjectRule, PrivacyRegistry, TableRule

DOMAIN_MODULES = (
    "resolvers.users.privacy",
    "resolvers.posts.privacy",
    "resolvers.feed.privacy",
    "resolvers.analytics.privacy",
)


def load() -> PrivacyRegistry:
    """The registry with every domain's rules."""
    for name in DOMAIN_MODULES:
        importlib.import_module(name)
    return PRIVACY


__all__ = ["PRIVACY", "Erase", "ObjectRule", "PrivacyRegistry", "TableRule", "load"]
