"""The switch between embedded servers and given URLs, shared by `puppies dev` and the tests.

With DATABASE_URL, REDIS_URL and S3_ENDPOINT_URL set, those servers are used and nothing
starts. Each one left unset is started here as a real embedded server.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from puppies.embedded import (
    EmbeddedPostgres,
    EmbeddedRedis,
    EmbeddedS3,
    EmbeddedService,
    free_port,
)
from puppies.embedded.base import never
from puppies.embedded.s3 import INTERNAL_ROLES
from puppies.settings import Settings
from puppies.watchdog import Watchdog


@dataclass
class RunningServices:
    settings: Settings
    started: list[EmbeddedService] = field(default_factory=list)
    # The watchdog that stops the servers if this process dies; closed by stop() when owned.
    watchdog: Watchdog | None = None
    owns_watchdog: bool = False

    def stop(self) -> None:
        for service in reversed(self.started):
            service.stop()
        self.started.clear()
        if self.watchdog is not None and self.owns_watchdog:
            self.watchdog.close()

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


def embedded_services(
    settings: Settings,
    base: Path,
    ports: tuple[int, int, int] | None = None,
    s3_internal_ports: Sequence[int] | None = None,
    throwaway: bool = False,
) -> list[EmbeddedService]:
    """The embedded server for each service URL that is unset (not started)."""
    pg_port, redis_port, s3_port = ports or (
        settings.embedded_postgres_port,
        settings.embedded_redis_port,
        settings.embedded_s3_port,
    )
    if ports is not None and s3_internal_ports is None:
        # Ports chosen by the caller (tests, benchmarks): the internal ones are free ports too.
        s3_internal_ports = [free_port() for _ in INTERNAL_ROLES]
    out: list[EmbeddedService] = []
    if settings.database_url is None:
        out.append(EmbeddedPostgres(base / "postgres", pg_port, fast_unsafe=throwaway))
    if settings.redis_url is None:
        out.append(EmbeddedRedis(base / "redis", redis_port, persist=not throwaway))
    if settings.s3_endpoint_url is None:
        out.append(
            EmbeddedS3(
                base / "s3",
                s3_port,
                access_key_id=settings.s3_access_key_id,
                secret_access_key=settings.s3_secret_access_key,
                internal_ports=s3_internal_ports,
            )
        )
    return out


URL_SETTING = {"postgres": "database_url", "redis": "redis_url", "s3": "s3_endpoint_url"}


def start_services(
    settings: Settings,
    *,
    data_dir: Path | None = None,
    ports: tuple[int, int, int] | None = None,
    s3_internal_ports: Sequence[int] | None = None,
    throwaway: bool = False,
    watchdog: Watchdog | None = None,
    cancelled: Callable[[], bool] = never,
) -> RunningServices:
    """Start an embedded server for each service URL that is unset.

    `throwaway` (tests) turns off durability for speed; `ports` overrides the configured
    embedded ports (tests use ephemeral ones so parallel runs do not collide). Each server is
    registered with `watchdog` (one of its own when none is given), which stops them if this
    process dies; `cancelled()` turning true aborts a start with StopRequested.
    """
    base = (data_dir or settings.data_dir).resolve()
    services = embedded_services(settings, base, ports, s3_internal_ports, throwaway)
    running = RunningServices(settings=settings)
    if services:
        running.owns_watchdog = watchdog is None
        running.watchdog = watchdog or Watchdog()
    updates: dict[str, object] = {}
    try:
        for service in services:
            service.watchdog = running.watchdog
            service.cancelled = cancelled
            running.started.append(service)
            updates[URL_SETTING[service.name]] = service.start()
    except BaseException:
        running.stop()
        raise
    running.settings = settings.model_copy(update=updates)
    return running
