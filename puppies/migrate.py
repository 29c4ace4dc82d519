"""Run Alembic migrations programmatically (`puppies migrate`, `puppies dev`, tests)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic import command
from alembic.config import Config

from puppies.settings import Settings


def _migrations_dir() -> Path:
    spec = importlib.util.find_spec("migrations")
    if spec is None or spec.origin is None:
        raise RuntimeError("the migrations package is not installed")
    return Path(spec.origin).resolve().parent


MIGRATIONS_DIR = _migrations_dir()
DOMAINS = ("platform", "users", "posts", "feed", "analytics")


def alembic_config(settings: Settings) -> Config:
    if settings.database_url is None:
        raise ValueError("DATABASE_URL is not set")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option(
        "version_locations",
        " ".join(str(MIGRATIONS_DIR / "versions" / d) for d in DOMAINS),
    )
    cfg.set_main_option("path_separator", "space")
    cfg.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    return cfg


def upgrade(settings: Settings, target: str = "heads") -> None:
    """Bring every domain's schema up to date (each domain is its own version branch)."""
    command.upgrade(alembic_config(settings), target)


def downgrade(settings: Settings, target: str) -> None:
    command.downgrade(alembic_config(settings), target)
