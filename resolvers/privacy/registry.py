"""The privacy registry: for every table and every S3 prefix, what a user's data export takes
from it and what deleting the user's account does to it (docs/privacy.md).

Each domain declares its own tables in `resolvers/<domain>/privacy.py`, one line each, on
the shared `PRIVACY` registry:

    PRIVACY.owned("posts.likes", "user_id")                        # export and delete
    PRIVACY.owned("users.follows", "follower_id", "followee_id")   # rows naming the user
    PRIVACY.owned("users.notifications", "recipient_id", "actor_id", export_by=("recipient_id",))
    PRIVACY.anonymised("posts.moderation_actions", "moderator_id", reason="...")
    PRIVACY.derived("feed.inbox", "viewer_id", "author_id", reason="...")
    PRIVACY.not_personal("analytics.event_ids", reason="...")
    PRIVACY.outbox("posts")                                        # outbox, processed_events
    PRIVACY.objects_under("media/", "posts", keys=media_keys_of_user)

and, when deleting needs more than removing rows (counters of other users to correct,
files to delete first), an eraser that runs before the generic pass:

    @PRIVACY.eraser("posts")
    async def erase_likes(res: Resources, user_id: int) -> None: ...

The tests enumerate every table of the domain schemas (information_schema) and every
top-level prefix in the bucket, and fail for one without a rule: a new table cannot be
forgotten. The generic pass works on the rule's columns in batches, so a domain's own
code (its `privacy.py`) writes only its own schema.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from resolvers.runtime import Resources

NAME = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")

Eraser = Callable[[Resources, int], Awaitable[None]]
KeysOf = Callable[[Resources, int], Awaitable[list[str]]]


class Erase(StrEnum):
    DELETE = "delete"  # rows naming the user (in any user column) are deleted
    ANONYMISE = "anonymise"  # the user columns naming the user are set to NULL
    FINAL = "final"  # the account's own rows, deleted last, when nothing else is left
    TRANSIENT = "transient"  # dispatched rows naming the user are deleted (the outbox)
    NONE = "none"  # holds nothing about a user


@dataclass(frozen=True)
class TableRule:
    table: str  # "schema.table"
    user_columns: tuple[str, ...]  # columns that may hold a user's id
    erase: Erase
    export_by: tuple[str, ...] = ()  # rows exported where one of these is the user
    omit: tuple[str, ...] = ()  # columns never exported (secrets, hashes)
    reason: str = ""

    @property
    def schema(self) -> str:
        return self.table.split(".", 1)[0]

    @property
    def exported(self) -> bool:
        return bool(self.export_by)


@dataclass(frozen=True)
class ObjectRule:
    prefix: str  # "media/"
    domain: str  # whose eraser deletes the objects
    keys: KeysOf  # the user's object keys under the prefix
    export: bool = True
    reason: str = ""
    export_keys: KeysOf | None = None  # the keys an export takes (default: `keys`)

    async def exported_keys(self, res: Resources, user_id: int) -> list[str]:
        if not self.export:
            return []
        return await (self.export_keys or self.keys)(res, user_id)


@dataclass
class PrivacyRegistry:
    tables: dict[str, TableRule] = field(default_factory=dict)
    objects: dict[str, ObjectRule] = field(default_factory=dict)
    erasers: dict[str, list[Eraser]] = field(default_factory=dict)

    # ---- declaring ------------------------------------------------------------------------
    def _add(self, rule: TableRule) -> TableRule:
        if not NAME.match(rule.table):
            raise ValueError(f"name a table as schema.table: {rule.table!r}")
        if rule.table in self.tables:
            raise ValueError(f"{rule.table} has two privacy rules")
        if rule.erase in (Erase.DELETE, Erase.ANONYMISE, Erase.FINAL) and not rule.user_columns:
            raise ValueError(f"{rule.table}: say which columns hold a user id")
        unknown = set(rule.export_by) - set(rule.user_columns)
        if unknown:
            raise ValueError(f"{rule.table}: export_by {sorted(unknown)} are not user columns")
        self.tables[rule.table] = rule
        return rule

    def owned(
        self,
        table: str,
        *user_columns: str,
        export_by: Iterable[str] | None = None,
        omit: Iterable[str] = (),
        reason: str = "",
    ) -> TableRule:
        """Rows that name the user: exported (those where a column of `export_by` is the
        user; by default any user column) and deleted."""
        return self._add(
            TableRule(
                table,
                tuple(user_columns),
                Erase.DELETE,
                tuple(export_by) if export_by is not None else tuple(user_columns),
                tuple(omit),
                reason,
            )
        )

    def account(self, table: str, *user_columns: str, omit: Iterable[str] = ()) -> TableRule:
        """The account's own row(s): exported, deleted at the very end."""
        return self._add(
            TableRule(table, tuple(user_columns), Erase.FINAL, tuple(user_columns), tuple(omit))
        )

    def anonymised(
        self,
        table: str,
        *user_columns: str,
        export_by: Iterable[str] = (),
        omit: Iterable[str] = (),
        reason: str,
    ) -> TableRule:
        """Rows kept for others (an audit log): the user's id is set to NULL in them."""
        return self._add(
            TableRule(
                table, tuple(user_columns), Erase.ANONYMISE, tuple(export_by), tuple(omit), reason
            )
        )

    def derived(self, table: str, *user_columns: str, reason: str) -> TableRule:
        """Rows computed from other tables (a timeline, a rollup): deleted, not exported."""
        return self._add(TableRule(table, tuple(user_columns), Erase.DELETE, (), (), reason))

    def not_personal(self, table: str, *, reason: str) -> TableRule:
        return self._add(TableRule(table, (), Erase.NONE, (), (), reason))

    def outbox(self, schema: str) -> None:
        """`<schema>.outbox` (events name users in their payload: dispatched ones are
        deleted) and `<schema>.processed_events` (consumer and event ids only)."""
        self._add(
            TableRule(
                f"{schema}.outbox",
                ("aggregate_id",),
                Erase.TRANSIENT,
                reason="events in flight between domains; a dispatched event naming the user "
                "is deleted, the rest after OUTBOX_RETENTION_HOURS",
            )
        )
        self.not_personal(
            f"{schema}.processed_events", reason="which consumer handled which event id"
        )

    def objects_under(
        self,
        prefix: str,
        domain: str,
        *,
        keys: KeysOf,
        export: bool = True,
        export_keys: KeysOf | None = None,
        reason: str = "",
    ) -> ObjectRule:
        """Objects under `prefix` (one top-level path segment) belong to users: `keys` lists
        a user's (for deletion and its check), `export_keys` what an export takes."""
        if not prefix.endswith("/") or prefix.count("/") != 1:
            raise ValueError(f"an object prefix is one path segment ending in '/': {prefix!r}")
        if prefix in self.objects:
            raise ValueError(f"{prefix} has two privacy rules")
        rule = ObjectRule(prefix, domain, keys, export, reason, export_keys)
        self.objects[prefix] = rule
        return rule

    def eraser(self, domain: str) -> Callable[[Eraser], Eraser]:
        """Register `fn(res, user_id)`, run (in registration order) before the generic pass
        over `domain`'s tables when an account is deleted. Idempotent, resumable."""

        def register(fn: Eraser) -> Eraser:
            self.erasers.setdefault(domain, []).append(fn)
            return fn

        return register

    # ---- reading ----------------------------------------------------------------------------
    def domains(self) -> list[str]:
        return sorted({r.schema for r in self.tables.values()})

    def rules_of(self, domain: str) -> list[TableRule]:
        return [r for name, r in sorted(self.tables.items()) if r.schema == domain]


PRIVACY = PrivacyRegistry()
