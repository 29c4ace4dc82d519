"""The switch between embedded servers and given URLs, shared by `puppies dev` and the tests.

With DATABASE_URL, REDIS_URL and S3_ENDPOINT_URL set, those servers are used and nothing
starts. Each one left unset is started here as a real embedded server.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from puppies.embedded import EmbeddedPostgres, EmbeddedRedis, EmbeddedS3, EmbeddedService
from puppies.settings import Settings


@dataclass
class RunningServices:
    settings: Settings
    started: list[EmbeddedService] = field(default_factory=list)

    def stop(self) -> None:
        for service in reversed(self.started):
            service.stop()
        self.started.clear()

    def env(self) -> dict[str, str]:
        """Environment for child processes so they reach the same servers."""
        s = self.settings
        assert s.database_url and s.redis_url and s.s3_endpoint_url
        return {
            "DATABASE_URL": s.database_url,
            "REDIS_URL": s.redis_url,
            "S3_ENDPOINT_URL": s.s3_endpoint_url,
            "DATA_DIR": str(s.data_dir),
            "HOST": s.host,
            "ROUTER_PORT": str(s.router_port),
            "USERS_PORT": str(s.users_port),
            "POSTS_PORT": str(s.posts_port),
            "FEED_PORT": str(s.feed_port),
            "ANALYTICS_PORT": str(s.analytics_port),
        }


def reset_data(settings: Settings) -> None:
    """Wipe everything the embedded services and dev keys keep (`puppies dev --reset`)."""
    if settings.data_dir.exists():
        shutil.rmtree(settings.data_dir)


def start_services(
    settings: Settings,
    *,
    data_dir: Path | None = None,
    ports: tuple[int, int, int] | None = None,
    throwaway: bool = False,
) -> RunningServices:
    """Start an embedded server for each service URL that is unset.

    `throwaway` (tests) turns off durability for speed; `ports` overrides the configured
    embedded ports (tests use ephemeral ones so parallel runs do not collide).
    """
    base = (data_dir or settings.data_dir).resolve()
    pg_port, redis_port, s3_port = ports or (
        settings.embedded_postgres_port,
        settings.embedded_redis_port,
        settings.embedded_s3_port,
    )
    running = RunningServices(settings=settings)
    updates: dict[str, object] = {}
    try:
        if settings.database_url is None:
            pg = EmbeddedPostgres(base / "postgres", pg_port, fast_unsafe=throwaway)
            updates["database_url"] = pg.start()
            running.started.append(pg)
        if settings.redis_url is None:
            redis = EmbeddedRedis(base / "redis", redis_port, persist=not throwaway)
            updates["redis_url"] = redis.start()
            running.started.append(redis)
        if settings.s3_endpoint_url is None:
            s3 = EmbeddedS3(base / "s3", s3_port, persist=not throwaway)
            updates["s3_endpoint_url"] = s3.start()
            running.started.append(s3)
    except BaseException:
        running.stop()
        raise
    running.settings = settings.model_copy(update=updates)
    return running
