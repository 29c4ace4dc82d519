"""Per-request DataLoaders of the users domain: one SQL statement per batch.

Built by the users subgraph's context getter for every request (batching and caching never
cross requests or viewers). `followers` / `following` batch every page asked for at one
level of a query into one LATERAL statement; their nodes come through `user`.
"""

from __future__ import annotations

from asyncio import Future
from collections.abc import Sequence
from functools import cached_property

from aiodataloader import DataLoader

from puppies.auth import Viewer
from puppies.auth.keys import KeyRing
from puppies.broker import KeyedBroker
from puppies.pagination import Page, PageRequest
from resolvers.runtime import Resources
from resolvers.users import accounts, blocks, follows
from resolvers.users.accounts import ProfileRow
from resolvers.users.notifications import NotificationRecord
from resolvers.users.oidc import OidcClients

PageKey = tuple[int, PageRequest]


class UsersLoaders:
    def __init__(
        self,
        res: Resources,
        viewer: Viewer,
        keyring: KeyRing,
        *,
        oidc: OidcClients | None = None,
        notification_broker: KeyedBroker[NotificationRecord] | None = None,
    ) -> None:
        self.res = res
        self.viewer = viewer
        self.keyring = keyring
        # the process's OpenID Connect clients (their discovery documents and JWKS cached)
        self.oidc = oidc if oidc is not None else OidcClients(res.settings)
        # the process's one broker of live notifications (the users app starts it)
        self.notification_broker = notification_broker
        # the `user` loader's cache: id -> its row's future
        self._user_rows: dict[int, Future[ProfileRow | None]] = {}
        # Rows `users` read before the `user` loader was made, as plain values (no future
        # each: a home feed page's 20 authors are read by `_entities` alone, no loader made);
        # primed into the loader when it is made, then None.
        self._held: dict[int, ProfileRow | None] | None = {}

    @cached_property
    def user(self) -> DataLoader[int, ProfileRow | None]:
        loader = DataLoader(self._users, cache_map=self._user_rows)
        held, self._held = self._held, None
        for key, row in (held or {}).items():
            loader.prime(key, row)
        return loader

    async def users(self, ids: Sequence[int]) -> list[ProfileRow | None]:
        """`user.load_many(ids)` without a future and an event-loop step per id (20 for
        a home feed page's authors): rows the loader holds are reused, the others read in
        one statement (as the loader's one batch would be) and then held by the loader
        (`prime`), so later loads in this request get them. An id whose load is pending or
        failed sends the whole list through `load_many` itself. Its statement is not shared
        with other loads made in the same step (the loader's batching): for a list read on
        its own, as `_entities`' users; lists read side by side (a blocked and a muted page
        in one operation) go through `user.load_many` to share one statement."""
        held = self._held
        if held is not None:  # no loader yet: nothing pending, nothing failed
            missing = [key for key in dict.fromkeys(ids) if key not in held]
            if missing:
                read = await self._users(missing)
                held = self._held  # a loader may have been made meanwhile
                if held is None:
                    self._prime(missing, read)
                else:
                    for key, row in zip(missing, read, strict=True):
                        held.setdefault(key, row)  # as `prime`: the first value read stays
                    return [held[key] for key in ids]
            else:
                return [held[key] for key in ids]
        rows: dict[int, ProfileRow | None] = {}
        wanted: dict[int, None] = {}
        cache = self._user_rows
        for key in ids:
            if key in rows or key in wanted:
                continue
            found = cache.get(key)
            if found is None:
                wanted[key] = None
            elif found.done() and not found.cancelled() and found.exception() is None:
                rows[key] = found.result()
            else:
                return await self.user.load_many(ids)
        if wanted:
            keys = list(wanted)
            read = await self._users(keys)
            rows.update(zip(keys, read, strict=True))
            self._prime(keys, read)
        return [rows[key] for key in ids]

    def _prime(self, keys: list[int], rows: list[ProfileRow | None]) -> None:
        loader = self.user
        for key, row in zip(keys, rows, strict=True):
            loader.prime(key, row)

    @cached_property
    def followers(self) -> DataLoader[PageKey, Page[int]]:
        return DataLoader(self._followers)

    @cached_property
    def following(self) -> DataLoader[PageKey, Page[int]]:
        return DataLoader(self._following)

    @cached_property
    def viewer_follows(self) -> DataLoader[int, bool]:
        return DataLoader(self._viewer_follows)

    @cached_property
    def blocked(self) -> DataLoader[PageKey, Page[int]]:
        return DataLoader(self._blocked)

    @cached_property
    def muted(self) -> DataLoader[PageKey, Page[int]]:
        return DataLoader(self._muted)

    @cached_property
    def viewer_blocks(self) -> DataLoader[int, bool]:
        return DataLoader(self._viewer_blocks)

    @cached_property
    def viewer_mutes(self) -> DataLoader[int, bool]:
        return DataLoader(self._viewer_mutes)

    async def _users(self, ids: Sequence[int]) -> list[ProfileRow | None]:
        return await accounts.users_by_ids(self.res, ids)

    async def _followers(self, keys: Sequence[PageKey]) -> list[Page[int]]:
        return await follows.followers_pages(self.res, keys)

    async def _following(self, keys: Sequence[PageKey]) -> list[Page[int]]:
        return await follows.following_pages(self.res, keys)

    async def _viewer_follows(self, ids: Sequence[int]) -> list[bool]:
        if self.viewer.user_id is None:
            return [False for _ in ids]
        return await follows.viewer_follows(self.res, self.viewer.user_id, ids)

    async def _blocked(self, keys: Sequence[PageKey]) -> list[Page[int]]:
        return await blocks.blocked_pages(self.res, keys)

    async def _muted(self, keys: Sequence[PageKey]) -> list[Page[int]]:
        return await blocks.muted_pages(self.res, keys)

    async def _viewer_blocks(self, ids: Sequence[int]) -> list[bool]:
        if self.viewer.user_id is None:
            return [False for _ in ids]
        return await blocks.viewer_blocks(self.res, self.viewer.user_id, ids)

    async def _viewer_mutes(self, ids: Sequence[int]) -> list[bool]:
        if self.viewer.user_id is None:
            return [False for _ in ids]
        return await blocks.viewer_mutes(self.res, self.viewer.user_id, ids)

    def forget_user(self, user_id: int) -> None:
        """After a write, so later fields in this request see fresh rows."""
        self.user.clear(user_id)
        self.viewer_follows.clear(user_id)
        self.viewer_blocks.clear(user_id)
        self.viewer_mutes.clear(user_id)
