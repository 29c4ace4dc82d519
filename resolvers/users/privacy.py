"""The users domain's privacy rules (docs/privacy.md): what an export takes and what an
account deletion does, table by table, plus the erasers that correct other accounts'
follower counts and delete export archives before the generic pass."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from resolvers.privacy.registry import PRIVACY
from resolvers.runtime import Resources

EXPORTS_PREFIX = "exports/"

PRIVACY.account("users.users", "id", omit=("password_hash",))
PRIVACY.owned("users.follows", "follower_id", "followee_id")
PRIVACY.owned("users.refresh_tokens", "user_id", omit=("token_hash",))
PRIVACY.owned("users.api_keys", "user_id", omit=("secret_hash",))
PRIVACY.owned("users.oidc_identities", "user_id")
PRIVACY.owned("users.data_exports", "user_id")
# social (docs/social.md): the user's own blocks and mutes are exported; every row naming
# the user either way is deleted, as are the user's reset links and notifications
PRIVACY.owned("users.blocks", "blocker_id", "blocked_id", export_by=("blocker_id",))
PRIVACY.owned("users.mutes", "muter_id", "muted_id", export_by=("muter_id",))
PRIVACY.owned("users.password_resets", "user_id", omit=("token_hash", "request_id"))
PRIVACY.owned("users.notifications", "recipient_id", "actor_id", export_by=("recipient_id",))
PRIVACY.account("users.account_deletions", "user_id")
PRIVACY.outbox("users")


def export_prefix(user_id: int) -> str:
    return f"{EXPORTS_PREFIX}{user_id}/"


async def export_keys(res: Resources, user_id: int) -> list[str]:
    """Every archive of the user in the bucket (listed in S3, not read from the rows, so
    an archive written after its row was deleted is found too)."""

    def listing() -> list[str]:
        keys: list[str] = []
        paginator = res.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(
            Bucket=res.settings.s3_bucket, Prefix=export_prefix(user_id)
        ):
            keys.extend(str(o["Key"]) for o in page.get("Contents", []))
        return keys

    return await asyncio.to_thread(listing)


PRIVACY.objects_under(
    EXPORTS_PREFIX,
    "users",
    keys=export_keys,
    export=False,
    reason="the user's data export archives: an archive does not go into the next one",
)

# Unfollowing in bulk: each batch of the user's follow edges is deleted and the other
# side's counter corrected in the same statement (the deleted account's own counters go
# with its row).
_UNFOLLOW_THEM = text("""
    WITH gone AS (
        DELETE FROM users.follows WHERE (follower_id, followee_id) IN (
            SELECT follower_id, followee_id FROM users.follows WHERE follower_id = :u LIMIT :n)
        RETURNING followee_id
    ), counts AS (SELECT followee_id AS id, count(*) AS n FROM gone GROUP BY 1)
    UPDATE users.users t SET follower_count = t.follower_count - counts.n
      FROM counts WHERE t.id = counts.id
""")
_UNFOLLOW_ME = text("""
    WITH gone AS (
        DELETE FROM users.follows WHERE (follower_id, followee_id) IN (
            SELECT follower_id, followee_id FROM users.follows WHERE followee_id = :u LIMIT :n)
        RETURNING follower_id
    ), counts AS (SELECT follower_id AS id, count(*) AS n FROM gone GROUP BY 1)
    UPDATE users.users t SET following_count = t.following_count - counts.n
      FROM counts WHERE t.id = counts.id
""")
_LEFT = text(
    "SELECT (SELECT count(*) FROM users.follows WHERE follower_id = :u), "
    "(SELECT count(*) FROM users.follows WHERE followee_id = :u)"
)


@PRIVACY.eraser("users")
async def erase_follows(res: Resources, user_id: int, batch: int = 2000) -> None:
    for statement, side in ((_UNFOLLOW_THEM, 0), (_UNFOLLOW_ME, 1)):
        while True:
            async with res.db.transaction() as session:
                await session.execute(statement, {"u": user_id, "n": batch})
                left = (await session.execute(_LEFT, {"u": user_id})).one()
            if left[side] == 0:
                break


@PRIVACY.eraser("users")
async def erase_export_archives(res: Resources, user_id: int) -> None:
    keys = await export_keys(res, user_id)
    bucket = res.settings.s3_bucket

    def delete() -> None:
        for start in range(0, len(keys), 1000):
            chunk = [{"Key": k} for k in keys[start : start + 1000]]
            res.s3.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})  # type: ignore[typeddict-item]

    if keys:
        await asyncio.to_thread(delete)


# A password reset request names an address, not an account (the request must not tell
# whether one exists), so the outbox's generic pass, which looks for the user's id, cannot
# see it. The account is being deleted: no link will be sent for it, dispatched or not.
_FORGET_RESET_REQUESTS = text("""
    DELETE FROM users.outbox
     WHERE event_type = 'password_reset.requested'
       AND lower(payload ->> 'email') = (SELECT lower(email) FROM users.users WHERE id = :u)
""")


@PRIVACY.eraser("users")
async def erase_reset_requests(res: Resources, user_id: int) -> None:
    async with res.db.transaction() as session:
        await session.execute(_FORGET_RESET_REQUESTS, {"u": user_id})
