"""Subscription deduplication: identical live-like subscriptions share one execution.

A like on a post with 1,000 subscribers would otherwise run the subscription's selection
set 1,000 times (once per subscriber, in graphql-core). Subscriptions that are the same
operation with the same variables and select nothing viewer-dependent (`viewerHasLiked`)
produce the same result for everyone, so the posts schema runs ONE upstream subscription
per distinct (document, operation name, variables) in the process and fans its results
out. (Apollo Router's `subscription.enable_deduplication` does the same across
subgraph subscriptions.)

The shared execution checks that the post exists for its FIRST viewer only, so each viewer
who joins an existing group is checked first (`Share.post_ids`, loaded in the joiner's own
context by PostsSchema.stream): a viewer who may not see the post (someone else's draft, a
blocked author) is not joined; it runs its own execution, which answers NOT_FOUND.

Each member keeps the contract of a plain subscription: its own bounded queue
(SUBSCRIPTION_QUEUE_SIZE); a member that falls behind gets a SUBSCRIBER_TOO_SLOW error and
ends, without slowing the others; the upstream ends when its last member leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    GraphQLError,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    StringValueNode,
    VariableNode,
    parse,
    visit,
)
from graphql.language import Visitor
from strawberry.types import ExecutionResult

log = logging.getLogger(__name__)

SHAREABLE_ROOT_FIELDS = frozenset({"postLikeChanged"})
VIEWER_DEPENDENT_FIELDS = frozenset({"viewerHasLiked"})

Source = AsyncGenerator[Any, None]
_END = object()


class _FieldNames(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        self.names.add(node.name.value)


@dataclass(frozen=True)
class Share:
    """An operation that may share its execution: the group's key, and the posts its
    root fields watch (each joiner must be allowed to see every one of them)."""

    key: str
    post_ids: tuple[object, ...]


# A root field's `postId` argument: (True, variable name) or (False, literal value).
_PostIdArg = tuple[bool, str]
# Query texts whose shape `_shape` keeps (the live-like subscription of each client
# version: a handful; the cap bounds what odd clients can make it hold).
SHAPE_CACHE_SIZE = 256


@functools.lru_cache(maxsize=SHAPE_CACHE_SIZE)
def _shape(query: str) -> tuple[_PostIdArg, ...] | None:
    """What `share_key` needs of a query text, parsed once per text: the `postId` argument
    of each root field, or None if the text may not share (not one subscription
    operation, a root field other than SHAREABLE_ROOT_FIELDS, a fragment at the root, a
    viewer-dependent field anywhere, a root field without a plain `postId` argument)."""
    try:
        doc = parse(query)
    except GraphQLError:
        return None
    ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
    if len(ops) != 1 or ops[0].operation != OperationType.SUBSCRIPTION:
        return None
    fields = [s for s in ops[0].selection_set.selections if isinstance(s, FieldNode)]
    roots = {f.name.value for f in fields}
    if (
        not roots
        or not roots <= SHAREABLE_ROOT_FIELDS
        or len(fields) != len(ops[0].selection_set.selections)
    ):
        return None
    names = _FieldNames()
    visit(doc, names)
    if names.names & VIEWER_DEPENDENT_FIELDS:
        return None
    out: list[_PostIdArg] = []
    for f in fields:
        arg = next((a for a in f.arguments or () if a.name.value == "postId"), None)
        if arg is None:
            return None
        if isinstance(arg.value, VariableNode):
            out.append((True, arg.value.name.value))
        elif isinstance(arg.value, StringValueNode | IntValueNode):
            out.append((False, arg.value.value))
        else:
            return None
    return tuple(out)


def share_key(
    query: str | None, variables: dict[str, Any] | None, operation_name: str | None
) -> Share | None:
    """A Share when this operation may share its execution with identical ones, else None.
    The text is parsed once per distinct text (`_shape`); the variables are read each time."""
    if not query or len(query) > 10_000:
        return None
    shape = _shape(query)
    if shape is None:
        return None
    variables = variables or {}
    post_ids: list[object] = []
    for is_variable, value in shape:
        if not is_variable:
            post_ids.append(value)
        elif value in variables:
            post_ids.append(variables[value])
        else:  # a missing variable: the unshared execution reports it
            return None
    try:
        vars_key = json.dumps(variables, sort_keys=True)
    except (TypeError, ValueError):
        return None
    return Share(f"{operation_name or ''}\x00{vars_key}\x00{query}", tuple(post_ids))


@dataclass(eq=False)
class _Member:
    queue: asyncio.Queue[Any]


@dataclass(eq=False)
class _Group:
    key: str
    members: set[_Member] = field(default_factory=set)
    task: asyncio.Task[None] | None = None


class Multiplexer:
    def __init__(self) -> None:
        self.groups: dict[str, _Group] = {}
        self.dropped = 0

    @property
    def upstreams(self) -> int:
        return len(self.groups)

    async def _pump(self, group: _Group, open_source: Callable[[], Awaitable[Source]]) -> None:
        try:
            source = await open_source()
            async with contextlib.aclosing(source):
                async for result in source:
                    for member in list(group.members):
                        try:
                            member.queue.put_nowait(result)
                        except asyncio.QueueFull:
                            self._drop(group, member)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # never leave members waiting forever
            log.exception("shared subscription failed")
            error = ExecutionResult(
                data=None,
                errors=[
                    GraphQLError(
                        "Internal server error",
                        extensions={"code": "INTERNAL_SERVER_ERROR"},
                        original_error=exc,
                    )
                ],
            )
            for member in list(group.members):
                with contextlib.suppress(asyncio.QueueFull):
                    member.queue.put_nowait(error)
        finally:
            if self.groups.get(group.key) is group:
                del self.groups[group.key]
            for member in list(group.members):
                self._end(member)

    def _end(self, member: _Member) -> None:
        try:
            member.queue.put_nowait(_END)
        except asyncio.QueueFull:
            member.queue.get_nowait()
            member.queue.put_nowait(_END)

    def _drop(self, group: _Group, member: _Member) -> None:
        self.dropped += 1
        group.members.discard(member)
        while not member.queue.empty():
            member.queue.get_nowait()
        member.queue.put_nowait(
            ExecutionResult(
                data=None,
                errors=[
                    GraphQLError(
                        "this subscription fell too far behind and was closed; resubscribe",
                        extensions={"code": "SUBSCRIBER_TOO_SLOW"},
                    )
                ],
            )
        )
        member.queue.put_nowait(_END)

    async def join(
        self, key: str, open_source: Callable[[], Awaitable[Source]], queue_size: int
    ) -> Source:
        group = self.groups.get(key)
        if group is None:
            group = _Group(key=key)
            self.groups[key] = group
            group.task = asyncio.create_task(
                self._pump(group, open_source), name="shared-subscription"
            )
        member = _Member(queue=asyncio.Queue(maxsize=queue_size + 2))
        group.members.add(member)
        return self._member_stream(group, member)

    async def _member_stream(self, group: _Group, member: _Member) -> Source:
        try:
            while True:
                item = await member.queue.get()
                if item is _END:
                    return
                yield item
        finally:
            group.members.discard(member)
            if not group.members and group.task is not None and not group.task.done():
                if self.groups.get(group.key) is group:
                    del self.groups[group.key]
                group.task.cancel()
