"""The platform: settings validation, embedded services, migrations, CLI errors."""

from __future__ import annotations

import socket
import subprocess
import sys

import asyncpg
import pytest
from redis.asyncio import Redis

from puppies.embedded import EmbeddedRedis, free_port
from puppies.errors import ConfigError, PortInUseError
from puppies.s3 import create_s3_client
from puppies.settings import Settings, load_settings


def test_bad_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://nope")
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_settings()
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("USERS_PORT", "not-a-port")
    with pytest.raises(ConfigError, match="USERS_PORT"):
        load_settings()


def test_postgres_url_is_normalised() -> None:
    s = load_settings(database_url="postgresql://u:p@h:5432/db")
    assert s.database_url == "postgresql+asyncpg://u:p@h:5432/db"


def test_require_services_names_missing_urls() -> None:
    s = Settings(database_url=None, redis_url=None, s3_endpoint_url=None)
    with pytest.raises(ConfigError, match="DATABASE_URL, REDIS_URL, S3_ENDPOINT_URL"):
        s.require_services()


async def test_embedded_services_are_real_and_migrated(settings: Settings) -> None:
    assert settings.database_url
    conn = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
    try:
        schemas = {r[0] for r in await conn.fetch("SELECT nspname FROM pg_namespace")}
        assert {"users", "posts", "feed", "analytics"} <= schemas
        a, b = (
            await conn.fetchval("SELECT public.next_id()"),
            await conn.fetchval("SELECT public.next_id()"),
        )
        assert b > a > 0
    finally:
        await conn.close()
    redis = Redis.from_url(settings.redis_url or "")
    try:
        assert await redis.ping()
    finally:
        await redis.aclose()
    s3 = create_s3_client(settings)
    s3.put_object(Bucket=settings.s3_bucket, Key="probe", Body=b"x")
    try:
        assert s3.get_object(Bucket=settings.s3_bucket, Key="probe")["Body"].read() == b"x"
    finally:
        # the session's bucket holds only what the app names (tests/identity/test_privacy.py)
        s3.delete_object(Bucket=settings.s3_bucket, Key="probe")


def test_port_in_use_is_a_clear_error(tmp_path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"port {port}"):
            EmbeddedRedis(tmp_path, port).start()


def test_embedded_redis_persists_across_restart(tmp_path) -> None:
    import redis as sync_redis

    port = free_port()
    server = EmbeddedRedis(tmp_path, port, persist=True)
    server.start()
    try:
        sync_redis.Redis(port=port).set("k", "v")
    finally:
        server.stop()
    server = EmbeddedRedis(tmp_path, port, persist=True)
    server.start()
    try:
        assert sync_redis.Redis(port=port).get("k") == b"v"
    finally:
        server.stop()


def test_cli_help_explains_each_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "puppies.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("dev", "serve", "worker", "migrate", "seed", "compose", "plan"):
        assert command in out


def test_cli_subgraph_without_services_is_a_clear_error(tmp_path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "puppies.cli", "serve", "users"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr
