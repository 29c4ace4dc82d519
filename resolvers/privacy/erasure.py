"""A domain's part of an account deletion, and the check that nothing of the user is left.

`erase_domain(res, domain, user_id)` runs the domain's erasers (registration order), then
the generic pass over each of its tables' rules: rows deleted, anonymised, or (outbox)
deleted once dispatched; rules of the account's own rows (FINAL) are left for the end.
Every step is idempotent and works in short transactions, so a run stopped anywhere is
simply run again.

`remaining(res, user_id)` counts, for every rule of every domain, the rows that still
name the user, and for every object prefix the user's objects: what the final step
requires to be empty before it removes the account's own rows.
"""

from __future__ import annotations

import logging

from resolvers.privacy import load
from resolvers.privacy.registry import Erase
from resolvers.privacy.tables import count_naming, erase_rows
from resolvers.runtime import Resources

log = logging.getLogger(__name__)


async def erase_domain(res: Resources, domain: str, user_id: int) -> dict[str, int]:
    """Erase what `domain` holds of the user (not the account's own rows); the number of
    rows changed per table by the generic pass."""
    registry = load()
    for eraser in registry.erasers.get(domain, []):
        await eraser(res, user_id)
    changed: dict[str, int] = {}
    for rule in registry.rules_of(domain):
        if rule.erase in (Erase.FINAL, Erase.NONE):
            continue
        changed[rule.table] = await erase_rows(res, rule, user_id)
    return changed


async def remaining(res: Resources, user_id: int, *, include_final: bool = False) -> dict[str, int]:
    """What still names the user: {table or prefix: count}, only the non-zero ones. The
    account's own rows (FINAL rules) count only with `include_final`."""
    registry = load()
    left: dict[str, int] = {}
    async with res.db.session() as session:
        for name, rule in sorted(registry.tables.items()):
            if rule.erase is Erase.FINAL and not include_final:
                continue
            n = await count_naming(session, rule, user_id)
            if n:
                left[name] = n
    for prefix, objects in sorted(registry.objects.items()):
        keys = await objects.keys(res, user_id)
        if keys:
            left[prefix] = len(keys)
    return left
