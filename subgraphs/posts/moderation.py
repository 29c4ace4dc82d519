"""reportPost, moderationQueue, removePost, dismissReports (docs/identity.md, "Moderation").

The router refuses what the caller's token does not allow (`@authenticated`,
`@policy(policies: [["moderator"]])`); the resolvers check the role again in the database.
Merged into the posts subgraph's Query and Mutation by subgraphs/posts/schema.py."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from puppies.pagination import PageRequest
from resolvers.errors import BadInput, Forbidden, ResolverError, Unauthenticated
from resolvers.ids import parse_id
from resolvers.posts import moderation
from subgraphs.common import Connection, connection_from_page, page_size
from subgraphs.common.payloads import UserError
from subgraphs.posts.types import Post, PostsInfo

MODERATOR = [["moderator"]]


@strawberry.enum(description="Why a post is reported.")
class ReportReason(Enum):
    SPAM = "SPAM"
    HARASSMENT = "HARASSMENT"
    HATE = "HATE"
    VIOLENCE = "VIOLENCE"
    NUDITY = "NUDITY"
    MISINFORMATION = "MISINFORMATION"
    OTHER = "OTHER"


@strawberry.type(description="A user's report of a post (who reported it is not shown).")
class Report:
    id: strawberry.ID
    reason: ReportReason
    details: str
    created_at: datetime

    @classmethod
    def of(cls, r: moderation.ReportRecord) -> Report:
        return cls(
            id=strawberry.ID(str(r.id)),
            reason=ReportReason(r.reason),
            details=r.details,
            created_at=r.created_at,
        )


@strawberry.input
class ReportPostInput:
    post_id: strawberry.ID
    reason: ReportReason
    details: str = strawberry.field(default="", description="At most 1,000 characters.")


@strawberry.type
class ReportPostPayload:
    report: Report | None = None
    created: bool = strawberry.field(
        default=False, description="False when you had reported this post already."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="A post waiting for a moderator, with its open reports.")
class ReportedPost:
    rec: strawberry.Private[moderation.ReportedPost]

    @strawberry.field
    def post(self) -> Post | None:
        return Post.of(self.rec.post)

    @strawberry.field
    def report_count(self) -> int:
        return self.rec.report_count

    @strawberry.field
    def reasons(self) -> list[ReportReason]:
        return [ReportReason(r) for r in self.rec.reasons]

    @strawberry.field
    def first_reported_at(self) -> datetime:
        return self.rec.first_reported_at

    @strawberry.field
    def last_reported_at(self) -> datetime:
        return self.rec.last_reported_at

    @strawberry.field(description="The oldest open reports (at most `first`, up to 20).")
    def reports(self, first: int = 20) -> list[Report]:
        if not 0 <= first <= moderation.REPORTS_PER_POST:
            raise BadInput(f"`first` is 0 to {moderation.REPORTS_PER_POST}", field="first")
        return [Report.of(r) for r in self.rec.reports[:first]]


@strawberry.input
class ModerateInput:
    post_id: strawberry.ID
    reason: str = strawberry.field(description="Why: kept in the moderation log.")


@strawberry.enum
class ModerationActionKind(Enum):
    REMOVED = "REMOVED"
    DISMISSED = "DISMISSED"


@strawberry.type(description="What a moderator did, as logged.")
class ModerationAction:
    id: strawberry.ID
    post_id: strawberry.ID
    action: ModerationActionKind
    reason: str
    reports: int = strawberry.field(description="Open reports it resolved.")
    created_at: datetime

    @classmethod
    def of(cls, a: moderation.ActionRecord) -> ModerationAction:
        return cls(
            id=strawberry.ID(str(a.id)),
            post_id=strawberry.ID(str(a.post_id)),
            action=ModerationActionKind(a.action),
            reason=a.reason,
            reports=a.reports,
            created_at=a.created_at,
        )


@strawberry.type
class ModerationPayload:
    action: ModerationAction | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _user(info: PostsInfo) -> int:
    return info.context.viewer.require_user()


def _moderator(info: PostsInfo) -> int:
    viewer = info.context.viewer
    user_id = viewer.require_user()
    if viewer.kind != "user":
        raise Forbidden("moderation is done from a moderator's session, not an API key")
    return user_id


def _errors(exc: ResolverError) -> list[UserError]:
    return [UserError(code=exc.code, field=exc.field, message=exc.message)]


@strawberry.type
class ModerationQuery:
    @strawberry.federation.field(
        description="Reported posts with open reports, the longest waiting first (moderators).",
        policy=MODERATOR,
        directives=[page_size()],
    )
    async def moderation_queue(
        self, info: PostsInfo, first: int | None = None, after: str | None = None
    ) -> Connection[ReportedPost] | None:
        moderator = _moderator(info)
        req = PageRequest.build(info.context.settings, first, after)
        page = await moderation.queue_page(info.context.resources, moderator, req)
        return connection_from_page(page, lambda item: ReportedPost(rec=item))


@strawberry.type
class ModerationMutation:
    @strawberry.federation.mutation(
        description="Report a post to the moderators (once per post; not your own).",
        authenticated=True,
    )
    async def report_post(
        self, info: PostsInfo, input: ReportPostInput
    ) -> ReportPostPayload | None:
        reporter = _user(info)
        try:
            report, created = await moderation.report_post(
                info.context.resources,
                reporter,
                parse_id(input.post_id, "postId"),
                input.reason.value,
                input.details,
            )
        except Unauthenticated:
            raise
        except ResolverError as exc:
            return ReportPostPayload(errors=_errors(exc))
        return ReportPostPayload(report=Report.of(report), created=created)

    @strawberry.federation.mutation(
        description="Remove a post (moderators): it is deleted as its author would delete it, "
        "its open reports resolved, the removal logged.",
        policy=MODERATOR,
    )
    async def remove_post(self, info: PostsInfo, input: ModerateInput) -> ModerationPayload | None:
        moderator = _moderator(info)
        post_id = parse_id(input.post_id, "postId")
        try:
            done = await moderation.remove_post(
                info.context.resources, moderator, post_id, input.reason
            )
        except (Unauthenticated, Forbidden):
            raise
        except ResolverError as exc:
            return ModerationPayload(errors=_errors(exc))
        return ModerationPayload(action=ModerationAction.of(done))

    @strawberry.federation.mutation(
        description="Keep a reported post (moderators): its open reports are resolved, the "
        "decision logged.",
        policy=MODERATOR,
    )
    async def dismiss_reports(
        self, info: PostsInfo, input: ModerateInput
    ) -> ModerationPayload | None:
        moderator = _moderator(info)
        post_id = parse_id(input.post_id, "postId")
        try:
            done = await moderation.dismiss_reports(
                info.context.resources, moderator, post_id, input.reason
            )
        except (Unauthenticated, Forbidden):
            raise
        except ResolverError as exc:
            return ModerationPayload(errors=_errors(exc))
        return ModerationPayload(action=ModerationAction.of(done))
