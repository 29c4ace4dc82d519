"""GDPR: requestDataExport, dataExport, deleteAccount (docs/privacy.md).

Merged into the users subgraph's Query and Mutation by subgraphs/users/schema.py."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING

import strawberry

from resolvers.errors import Forbidden
from resolvers.ids import parse_id
from resolvers.users import deletion, exports
from resolvers.users.accounts import FieldError
from resolvers.users.oidc import OidcFailure, VerifiedIdentity
from subgraphs.common.payloads import UserError
from subgraphs.users.identity import CompleteOidcSignInInput
from subgraphs.users.types import UsersInfo

if TYPE_CHECKING:
    from models.users import DataExport as DataExportRow


@strawberry.enum
class DataExportStatus(Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    READY = "READY"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"


@strawberry.type(description="An archive of everything Puppies holds about you.")
class DataExport:
    id: strawberry.ID
    status: DataExportStatus
    requested_at: datetime
    completed_at: datetime | None
    expires_at: datetime | None = strawberry.field(
        description="When the archive is deleted (READY exports)."
    )
    byte_size: float | None = strawberry.field(description="The archive's size in bytes.")
    error: str | None = strawberry.field(description="Why a FAILED export failed.")
    url: str | None = strawberry.field(
        description="Download link (a presigned S3 GET) while READY; a fresh one each time "
        "you ask, valid until urlExpiresAt."
    )
    url_expires_at: datetime | None

    @classmethod
    def from_row(cls, info: UsersInfo, row: DataExportRow) -> DataExport:
        res = info.context.resources
        url = exports.download_url(res, row)
        return cls(
            id=strawberry.ID(str(row.id)),
            status=DataExportStatus(row.status),
            requested_at=row.requested_at,
            completed_at=row.completed_at,
            expires_at=row.expires_at,
            byte_size=float(row.byte_size) if row.byte_size is not None else None,
            error=row.error,
            url=url,
            url_expires_at=exports.link_expires_at(res, row) if url else None,
        )


@strawberry.type
class RequestDataExportPayload:
    export: DataExport | None
    errors: list[UserError]


@strawberry.input(description="Confirm with the password, or with a fresh provider sign-in.")
class DeleteAccountInput:
    password: str | None = None
    oidc: CompleteOidcSignInInput | None = strawberry.field(
        default=None,
        description="The code and state of a startOidcSignIn with purpose CONFIRM.",
    )


@strawberry.type
class DeleteAccountPayload:
    deletion_requested_at: datetime | None = strawberry.field(
        description="From this moment the account is disabled; its data is erased in the "
        "background."
    )
    errors: list[UserError]


def _session_user(info: UsersInfo) -> int:
    viewer = info.context.viewer
    user_id = viewer.require_user()
    if viewer.kind != "user":
        raise Forbidden("an API key cannot do this for its owner; use a logged-in session")
    return user_id


def _errors(errors: list[FieldError] | None) -> list[UserError]:
    return [UserError(code=e.code, field=e.field, message=e.message) for e in errors or []]


@strawberry.type
class PrivacyQuery:
    @strawberry.federation.field(
        description="One of your data exports (by id), or your latest one.",
        policy=[["session"]],
    )
    async def data_export(
        self, info: UsersInfo, id: strawberry.ID | None = None
    ) -> DataExport | None:
        user_id = _session_user(info)
        export_id = parse_id(id, "id") if id is not None else None
        row = await exports.get_export(info.context.resources, user_id, export_id)
        return DataExport.from_row(info, row) if row else None


@strawberry.type
class PrivacyMutation:
    @strawberry.federation.mutation(
        description="Collect everything Puppies holds about you into an archive; follow it "
        "with dataExport until it is READY, then download it from its url.",
        policy=[["session"]],
    )
    async def request_data_export(self, info: UsersInfo) -> RequestDataExportPayload | None:
        made = await exports.request_export(info.context.resources, _session_user(info))
        return RequestDataExportPayload(
            export=DataExport.from_row(info, made.export) if made.export else None,
            errors=_errors(made.errors),
        )

    @strawberry.federation.mutation(
        description="Delete your account: it stops working at once (sessions, tokens, API "
        "keys), then every part of Puppies erases your data. Confirm with your password, or "
        "an account without one with a sign-in at a linked provider.",
        policy=[["session"]],
    )
    async def delete_account(
        self, info: UsersInfo, input: DeleteAccountInput
    ) -> DeleteAccountPayload | None:
        user_id = _session_user(info)
        res = info.context.resources
        identity: VerifiedIdentity | None = None
        if input.oidc is not None:
            try:
                identity = await info.context.loaders.oidc.finish(
                    res, input.oidc.state, input.oidc.code
                )
            except OidcFailure as failure:
                return DeleteAccountPayload(
                    deletion_requested_at=None,
                    errors=[UserError(code=failure.code, field="oidc", message=failure.message)],
                )
        made = await deletion.request_deletion(
            res, user_id, password=input.password, identity=identity
        )
        info.context.loaders.forget_user(user_id)
        return DeleteAccountPayload(
            deletion_requested_at=made.requested_at, errors=_errors(made.errors)
        )
