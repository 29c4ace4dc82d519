"""Each domain's migrations are one linear chain: one head per domain, every revision in its
domain's directory. `puppies migrate` upgrades to "heads", so two migrations written at the
same time against the same parent would both run, in no defined order, without this test."""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory

from puppies.migrate import DOMAINS, MIGRATIONS_DIR, alembic_config
from puppies.settings import Settings


def _scripts() -> ScriptDirectory:
    settings = Settings(database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none")
    return ScriptDirectory.from_config(alembic_config(settings))


def _domain(path: str | None) -> str:
    assert path is not None
    return Path(path).resolve().parent.name


def test_one_head_per_domain() -> None:
    heads = [_scripts().get_revision(head) for head in _scripts().get_heads()]
    by_domain: dict[str, list[str]] = {}
    for head in heads:
        assert head is not None
        by_domain.setdefault(_domain(head.path), []).append(head.revision)
    assert sorted(by_domain) == sorted(DOMAINS)
    for domain, revisions in by_domain.items():
        assert len(revisions) == 1, (
            f"{domain} has several heads {revisions}: renumber the newest migration so that "
            "its down_revision is the other one"
        )


def test_a_revision_follows_one_of_its_own_domain() -> None:
    scripts = _scripts()
    for revision in scripts.walk_revisions():
        domain = _domain(revision.path)
        assert revision.revision.startswith(domain), revision.path
        assert Path(revision.path).resolve().is_relative_to(MIGRATIONS_DIR / "versions" / domain)
        parents = revision.down_revision
        if parents is None:
            continue
        assert isinstance(parents, str), f"{revision.revision} merges branches: {parents}"
        parent = scripts.get_revision(parents)
        assert parent is not None and _domain(parent.path) == domain, revision.path
