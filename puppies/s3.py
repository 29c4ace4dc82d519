"""The S3 client (boto3). boto3 is synchronous: call it through `asyncio.to_thread`."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from puppies.settings import Settings


def create_s3_client(settings: Settings) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=settings.s3_secret_access_key,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=50,
        ),
    )


def ensure_bucket(client: Any, bucket: str) -> None:
    """Create the media bucket if it does not exist (idempotent)."""
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        client.create_bucket(Bucket=bucket)
