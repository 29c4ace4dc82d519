"""GDPR data exports, the users domain's bookkeeping (docs/privacy.md).

`request_export` records a PENDING export and emits `user.data_export_requested` in one
transaction; the worker's `run_export` builds the archive (resolvers/privacy/archive.py)
into `exports/<user id>/<export id>.zip`, and the row becomes READY with its size and
expiry (or FAILED with a reason). `download_url` is a presigned GET that ends with the
link lifetime or the archive's expiry, whichever is first. `expire` deletes archives past
their expiry (EXPIRED).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from models.outbox import emit
from models.users import SCHEMA, DataExport
from resolvers.errors import NotFound
from resolvers.privacy.archive import build_archive
from resolvers.runtime import Resources
from resolvers.users.accounts import FieldError
from resolvers.users.deletion import is_disabled
from resolvers.users.privacy import export_prefix

log = logging.getLogger(__name__)

REQUESTED = "user.data_export_requested"


@dataclass
class ExportRequest:
    export: DataExport | None = None
    errors: list[FieldError] | None = None


def archive_key(user_id: int, export_id: int) -> str:
    return f"{export_prefix(user_id)}{export_id}.zip"


async def request_export(res: Resources, user_id: int) -> ExportRequest:
    limit = res.settings.data_export_max_per_day
    async with res.db.transaction() as session:
        # concurrent requests of one account take turns (a transaction-scoped lock)
        await session.execute(select(func.pg_advisory_xact_lock(user_id)))
        recent = list(
            (
                await session.execute(
                    select(DataExport.status).where(
                        DataExport.user_id == user_id,
                        DataExport.requested_at > func.now() - timedelta(days=1),
                    )
                )
            ).scalars()
        )
        if any(s in ("PENDING", "RUNNING") for s in recent):
            return ExportRequest(
                errors=[
                    FieldError(
                        "EXPORT_IN_PROGRESS",
                        "an export of your data is being prepared; query dataExport for it",
                    )
                ]
            )
        if len(recent) >= limit:
            return ExportRequest(
                errors=[
                    FieldError(
                        "RATE_LIMITED",
                        f"at most {limit} exports a day; the last one is still available "
                        "with dataExport",
                    )
                ]
            )
        row = DataExport(user_id=user_id, status="PENDING")
        session.add(row)
        await session.flush()
        await emit(
            session,
            SCHEMA,
            REQUESTED,
            {"export_id": row.id, "user_id": user_id},
            aggregate_id=user_id,
        )
        await session.refresh(row)
        return ExportRequest(export=row)


async def get_export(res: Resources, user_id: int, export_id: int | None) -> DataExport | None:
    """The user's export with that id, or their latest one."""
    async with res.db.session() as session:
        query = select(DataExport).where(DataExport.user_id == user_id)
        if export_id is not None:
            found = (
                await session.execute(query.where(DataExport.id == export_id))
            ).scalar_one_or_none()
            if found is None:
                raise NotFound(f"you have no data export with id {export_id}", field="id")
            return found
        return (
            await session.execute(query.order_by(DataExport.id.desc()).limit(1))
        ).scalar_one_or_none()


def download_url(res: Resources, export: DataExport) -> str | None:
    """A presigned GET of the archive, while it is READY and not expired."""
    if export.status != "READY" or export.object_key is None or export.expires_at is None:
        return None
    left = (export.expires_at - datetime.now(UTC)).total_seconds()
    if left <= 0:
        return None
    url: str = res.s3.generate_presigned_url(
        "get_object",
        Params={
            "Bucket": res.settings.s3_bucket,
            "Key": export.object_key,
            "ResponseContentDisposition": f'attachment; filename="puppies-data-{export.id}.zip"',
        },
        ExpiresIn=max(1, int(min(left, res.settings.data_export_link_seconds))),
    )
    return url


def link_expires_at(res: Resources, export: DataExport) -> datetime | None:
    if export.expires_at is None:
        return None
    return min(
        export.expires_at,
        datetime.now(UTC) + timedelta(seconds=res.settings.data_export_link_seconds),
    )


async def _set(res: Resources, export_id: int, **values: object) -> DataExport | None:
    async with res.db.transaction() as session:
        return (
            await session.execute(
                update(DataExport)
                .where(DataExport.id == export_id)
                .values(**values)
                .returning(DataExport)
            )
        ).scalar_one_or_none()


async def run_export(res: Resources, export_id: int) -> str:
    """Build one export's archive; idempotent (a READY, FAILED or EXPIRED export is left
    alone; a RUNNING one, left by a worker that died, is built again). The status it ends
    in."""
    async with res.db.session() as session:
        export = await session.get(DataExport, export_id)
    if export is None:
        return "GONE"  # the account was deleted meanwhile
    if export.status not in ("PENDING", "RUNNING"):
        return export.status
    if await is_disabled(res, export.user_id):
        await _set(res, export_id, status="FAILED", error="the account is being deleted")
        return "FAILED"
    await _set(res, export_id, status="RUNNING")
    key = archive_key(export.user_id, export_id)
    try:
        archive = await build_archive(res, export.user_id, key)
    except Exception as exc:
        log.exception("data export %s failed", export_id)
        await _set(
            res,
            export_id,
            status="FAILED",
            error=f"the archive could not be made ({type(exc).__name__}); request a new one",
            completed_at=func.now(),
        )
        return "FAILED"
    expires = datetime.now(UTC) + timedelta(seconds=res.settings.data_export_retention_seconds)
    done = await _set(
        res,
        export_id,
        status="READY",
        object_key=archive.key,
        byte_size=archive.byte_size,
        completed_at=func.now(),
        expires_at=expires,
    )
    if done is None:
        # the account (and its export rows) went while we worked: the archive goes too
        await asyncio.to_thread(
            res.s3.delete_object, Bucket=res.settings.s3_bucket, Key=archive.key
        )
        return "GONE"
    return "READY"


async def expire(res: Resources) -> int:
    """Delete the archives past their expiry; the number expired."""
    async with res.db.session() as session:
        due = list(
            (
                await session.execute(
                    select(DataExport).where(
                        DataExport.status == "READY", DataExport.expires_at < func.now()
                    )
                )
            ).scalars()
        )
    for export in due:
        if export.object_key:
            await asyncio.to_thread(
                res.s3.delete_object, Bucket=res.settings.s3_bucket, Key=export.object_key
            )
        await _set(res, export.id, status="EXPIRED", object_key=None)
    return len(due)
