"""The data export archive: everything every domain holds of the user, in one zip in S3.

Layout (docs/privacy.md):

    README.txt                      what is in here
    manifest.json                   user id, when, and per table/prefix what was included
    <schema>/<table>.jsonl          the user's rows, one JSON object per line
    files/<key>                     the user's files (e.g. files/media/<id>/original.jpg)

Rows come from each table rule's `export_by` columns (secrets such as password and token
hashes are never included); files from each object rule that exports. The archive is
written to a temporary file (rows are streamed from a server-side cursor, files copied in
chunks), then uploaded with a multipart upload, so neither needs to fit in memory.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import IO, Any
from uuid import UUID

from resolvers.privacy import load
from resolvers.privacy.tables import export_rows
from resolvers.runtime import Resources

CHUNK = 1024 * 1024
README = """Your Puppies data
=================

This archive holds what Puppies stores about you, as of {when} (UTC).

- manifest.json lists every part and how many rows or files it holds.
- Each <schema>/<table>.jsonl file holds your rows of one table, one JSON object per line
  (ids are numbers, times are ISO 8601 in UTC). Secrets (password and token hashes) are
  never included; sessions and API keys appear as their metadata.
- files/ holds the files you uploaded, as we store them (metadata stripped).
"""


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    raise TypeError(f"cannot export a {type(value).__name__}")


@dataclass(frozen=True)
class Archive:
    key: str
    byte_size: int
    manifest: dict[str, Any]


async def _write_tables(res: Resources, user_id: int, zf: zipfile.ZipFile) -> dict[str, int]:
    counts: dict[str, int] = {}
    registry = load()
    async with res.db.session() as session:
        for name, rule in sorted(registry.tables.items()):
            if not rule.exported:
                continue
            schema, table = name.split(".", 1)
            n = 0
            with zf.open(f"{schema}/{table}.jsonl", "w") as out:
                async for row in export_rows(session, rule, user_id):
                    out.write(json.dumps(row, default=_json_default).encode() + b"\n")
                    n += 1
            counts[name] = n
    return counts


def _copy_object(res: Resources, key: str, zf: zipfile.ZipFile) -> bool:
    from botocore.exceptions import ClientError

    try:
        body = res.s3.get_object(Bucket=res.settings.s3_bucket, Key=key)["Body"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return False  # deleted meanwhile (a post deleted while we export)
        raise
    with zf.open(f"files/{key}", "w") as out:
        while chunk := body.read(CHUNK):
            out.write(chunk)
    return True


async def _write_files(res: Resources, user_id: int, zf: zipfile.ZipFile) -> dict[str, int]:
    counts: dict[str, int] = {}
    for prefix, rule in sorted(load().objects.items()):
        if not rule.export:
            continue
        copied = 0
        for key in await rule.exported_keys(res, user_id):
            if await asyncio.to_thread(_copy_object, res, key, zf):
                copied += 1
        counts[prefix] = copied
    return counts


async def build_archive(res: Resources, user_id: int, key: str) -> Archive:
    """Collect everything of `user_id` and upload it to S3 under `key`."""
    now = datetime.now(UTC)
    with tempfile.TemporaryFile() as raw:
        file: IO[bytes] = raw
        with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            tables = await _write_tables(res, user_id, zf)
            files = await _write_files(res, user_id, zf)
            manifest = {
                "user_id": user_id,
                "created_at": now.isoformat(),
                "format": 1,
                "tables": tables,
                "files": files,
            }
            zf.writestr("manifest.json", json.dumps(manifest, indent=2))
            zf.writestr("README.txt", README.format(when=now.strftime("%Y-%m-%d %H:%M")))
        size = file.tell()
        file.seek(0)
        await asyncio.to_thread(
            res.s3.upload_fileobj,
            file,
            res.settings.s3_bucket,
            key,
            ExtraArgs={"ContentType": "application/zip"},
        )
    return Archive(key=key, byte_size=size, manifest=manifest)
