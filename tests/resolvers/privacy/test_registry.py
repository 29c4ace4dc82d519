"""Every table of every domain schema, as the migrated database lists it, has a privacy
rule (what an export takes, what a deletion does), and every rule fits its table: a new
table without a rule fails here, with the line to add."""

from __future__ import annotations

import pytest

from puppies.settings import Settings
from resolvers.privacy import load
from resolvers.privacy.registry import Erase, PrivacyRegistry
from tests.support.privacy import columns, connect, domain_tables


async def test_every_table_has_a_privacy_rule(settings: Settings) -> None:
    registry = load()
    conn = await connect(settings)
    try:
        tables = await domain_tables(conn)
    finally:
        await conn.close()
    assert len(tables) > 20
    missing = [t for t in tables if t not in registry.tables]
    assert missing == [], (
        f"tables without a privacy rule: {missing}. Declare each in "
        "resolvers/<domain>/privacy.py, e.g. PRIVACY.owned('<schema>.<table>', '<user id "
        "column>') (docs/privacy.md)"
    )
    stale = sorted(set(registry.tables) - set(tables))
    assert stale == [], f"rules for tables that do not exist: {stale}"


async def test_every_rule_names_columns_its_table_has(settings: Settings) -> None:
    registry = load()
    conn = await connect(settings)
    try:
        problems = []
        for name, rule in sorted(registry.tables.items()):
            have = await columns(conn, name)
            named = {*rule.user_columns, *rule.export_by, *rule.omit}
            if rule.erase is Erase.TRANSIENT:
                named.add("payload")
                named.add("dispatched_at")
            for column in sorted(named - set(have)):
                problems.append(f"{name}.{column}")
            for column in rule.user_columns:
                if column in have and have[column] not in ("bigint", "integer"):
                    problems.append(f"{name}.{column} is {have[column]}, not an id")
            if rule.erase is Erase.ANONYMISE:
                nullable = await conn.fetch(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema "
                    "= $1 AND table_name = $2 AND is_nullable = 'YES'",
                    *name.split(".", 1),
                )
                for column in set(rule.user_columns) - {r[0] for r in nullable}:
                    problems.append(f"{name}.{column} cannot be anonymised (NOT NULL)")
    finally:
        await conn.close()
    assert problems == []


def test_every_domain_has_its_outbox_rules_and_erasers_run_per_domain() -> None:
    registry = load()
    assert registry.domains() == ["analytics", "feed", "posts", "users"]
    for name in ("users", "posts"):
        assert registry.tables[f"{name}.outbox"].erase is Erase.TRANSIENT
    assert set(registry.erasers) <= set(registry.domains())
    assert sorted(registry.objects) == ["exports/", "media/", "uploads/"]


def test_the_registry_refuses_mistakes() -> None:
    registry = PrivacyRegistry()
    registry.owned("x.a", "user_id")
    with pytest.raises(ValueError, match="two privacy rules"):
        registry.owned("x.a", "user_id")
    with pytest.raises(ValueError, match=r"schema\.table"):
        registry.owned("a", "user_id")
    with pytest.raises(ValueError, match="which columns"):
        registry.owned("x.b")
    with pytest.raises(ValueError, match="not user columns"):
        registry.owned("x.c", "user_id", export_by=("author_id",))
    with pytest.raises(ValueError, match="one path segment"):
        registry.objects_under("media", "posts", keys=_no_keys)


async def _no_keys(res: object, user_id: int) -> list[str]:
    return []
