"""Moderation (docs/identity.md, "Moderation"): users report posts; moderators work through
the queue of reported posts and remove a post or dismiss its reports.

Roles are checked here against the database (`resolvers.users.roles.require_role`),
whatever the router's `@policy` let through. A removal is the author's deletion done by a
moderator (`posts.delete_post` on the author's behalf: hidden at once, cleaned up by the
same events), plus a line in `moderation_actions`, which outlives the post.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.types import BigInteger

from models.posts import REPORT_REASONS, ModerationAction, Report
from puppies.pagination import Page, PageRequest
from resolvers.errors import BadInput, NotFound
from resolvers.posts import posts
from resolvers.posts.records import PostRecord
from resolvers.runtime import Resources
from resolvers.users.roles import require_role

MAX_DETAILS = 1000
MAX_REASON = 500
REPORTS_PER_POST = 20


@dataclass(frozen=True)
class ReportRecord:
    id: int
    post_id: int
    reason: str
    details: str
    created_at: datetime

    @classmethod
    def of(cls, r: Report) -> ReportRecord:
        return cls(r.id, r.post_id, r.reason, r.details, r.created_at)


@dataclass(frozen=True)
class ReportedPost:
    post: PostRecord
    report_count: int
    reasons: list[str]
    first_reported_at: datetime
    last_reported_at: datetime
    reports: list[ReportRecord]  # the oldest open ones, at most REPORTS_PER_POST


@dataclass(frozen=True)
class ActionRecord:
    id: int
    post_id: int
    action: str
    reason: str
    reports: int
    created_at: datetime


def _reason(value: str) -> str:
    if value not in REPORT_REASONS:
        raise BadInput(
            f"unknown reason {value!r}; use one of {list(REPORT_REASONS)}", field="reason"
        )
    return value


async def report_post(
    res: Resources, reporter_id: int, post_id: int, reason: str, details: str = ""
) -> tuple[ReportRecord, bool]:
    """Report a post (once per user: reporting it again returns the first report and
    False). Not your own post."""
    reason = _reason(reason)
    details = details.strip()
    if len(details) > MAX_DETAILS:
        raise BadInput(f"details are at most {MAX_DETAILS} characters", field="details")
    found = (await posts.posts_by_ids(res, [post_id])).get(post_id)
    if found is None:
        raise NotFound(f"post {post_id} does not exist", field="postId")
    if found.author_id == reporter_id:
        raise BadInput("you cannot report your own post", field="postId")
    async with res.db.transaction() as session:
        made = (
            await session.execute(
                pg_insert(Report)
                .values(post_id=post_id, reporter_id=reporter_id, reason=reason, details=details)
                .on_conflict_do_nothing()
                .returning(Report)
            )
        ).scalar_one_or_none()
        if made is not None:
            return ReportRecord.of(made), True
        existing = (
            await session.execute(
                select(Report).where(Report.post_id == post_id, Report.reporter_id == reporter_id)
            )
        ).scalar_one()
        return ReportRecord.of(existing), False


_QUEUE = text("""
    SELECT r.post_id, count(*) AS n, array_agg(DISTINCT r.reason ORDER BY r.reason) AS reasons,
           min(r.created_at) AS first, max(r.created_at) AS last, min(r.id) AS k
      FROM posts.reports r
     WHERE r.resolved_at IS NULL
     GROUP BY r.post_id
    HAVING min(r.id) > :after
     ORDER BY k
     LIMIT :n
""")


async def queue_page(res: Resources, moderator_id: int, req: PageRequest) -> Page[ReportedPost]:
    """Reported posts with open reports, the longest waiting first (by first report)."""
    await require_role(res, moderator_id, "moderator")
    async with res.db.session() as session:
        rows = (await session.execute(_QUEUE, {"after": req.after or 0, "n": req.first + 1})).all()
    has_next = len(rows) > req.first
    rows = rows[: req.first]
    live = await posts.posts_by_ids(res, [r.post_id for r in rows])
    kept = [r for r in rows if r.post_id in live]  # a post deleted meanwhile leaves the queue
    reports = await open_reports(res, [r.post_id for r in kept], REPORTS_PER_POST)
    return Page(
        items=[
            ReportedPost(
                live[r.post_id], int(r.n), list(r.reasons), r.first, r.last, reports[r.post_id]
            )
            for r in kept
        ],
        keys=[int(r.k) for r in kept],
        has_next_page=has_next,
        has_previous_page=req.after is not None,
    )


async def open_reports(
    res: Resources, post_ids: Sequence[int], limit: int
) -> dict[int, list[ReportRecord]]:
    """The open reports of each post, oldest first, at most `limit` each: one statement."""
    statement = text("""
        SELECT r.* FROM unnest(:ids) AS q(post_id) CROSS JOIN LATERAL (
            SELECT * FROM posts.reports WHERE post_id = q.post_id AND resolved_at IS NULL
             ORDER BY id LIMIT :n) r
    """).bindparams(bindparam("ids", type_=ARRAY(BigInteger)))
    async with res.db.session() as session:
        rows = (await session.execute(statement, {"ids": list(post_ids), "n": limit})).all()
    out: dict[int, list[ReportRecord]] = {p: [] for p in post_ids}
    for r in rows:
        out[r.post_id].append(ReportRecord(r.id, r.post_id, r.reason, r.details, r.created_at))
    return out


def _why(reason: str) -> str:
    reason = " ".join(reason.split())
    if not reason:
        raise BadInput("say why (it is kept in the moderation log)", field="reason")
    if len(reason) > MAX_REASON:
        raise BadInput(f"a reason is at most {MAX_REASON} characters", field="reason")
    return reason


async def _record(
    res: Resources,
    moderator_id: int,
    post_id: int,
    author_id: int,
    action: str,
    reason: str,
    reports: int | None = None,
) -> ActionRecord:
    """Resolve the post's open reports and log the action (with `reports`, or the number
    of reports resolved now)."""
    async with res.db.transaction() as session:
        resolved = len(
            (
                await session.execute(
                    update(Report)
                    .where(Report.post_id == post_id, Report.resolved_at.is_(None))
                    .values(resolved_at=func.now())
                    .returning(Report.id)
                )
            ).all()
        )
        row = (
            await session.execute(
                insert(ModerationAction)
                .values(
                    post_id=post_id,
                    author_id=author_id,
                    moderator_id=moderator_id,
                    action=action,
                    reason=reason,
                    reports=resolved if reports is None else reports,
                )
                .returning(ModerationAction)
            )
        ).scalar_one()
    return ActionRecord(row.id, row.post_id, row.action, row.reason, row.reports, row.created_at)


async def remove_post(res: Resources, moderator_id: int, post_id: int, reason: str) -> ActionRecord:
    """Remove a post as a moderator: deleted as its author would, its open reports
    resolved, the removal logged."""
    await require_role(res, moderator_id, "moderator")
    reason = _why(reason)
    found = (await posts.posts_by_ids(res, [post_id])).get(post_id)
    if found is None:
        raise NotFound(f"post {post_id} does not exist", field="postId")
    async with res.db.session() as session:
        open_count = (
            await session.execute(
                select(func.count())
                .select_from(Report)
                .where(Report.post_id == post_id, Report.resolved_at.is_(None))
            )
        ).scalar_one()
    await posts.delete_post(res, found.author_id, post_id)
    # the reports may go with the post's row: log how many were open before
    return await _record(
        res, moderator_id, post_id, found.author_id, "REMOVED", reason, int(open_count)
    )


async def dismiss_reports(
    res: Resources, moderator_id: int, post_id: int, reason: str
) -> ActionRecord:
    """Keep the post: its open reports are resolved, the decision logged."""
    await require_role(res, moderator_id, "moderator")
    reason = _why(reason)
    found = (await posts.posts_by_ids(res, [post_id])).get(post_id)
    if found is None:
        raise NotFound(f"post {post_id} does not exist", field="postId")
    return await _record(res, moderator_id, post_id, found.author_id, "DISMISSED", reason)
