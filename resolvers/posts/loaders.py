"""Per-request DataLoaders of the posts domain: one statement per list level.

Built fresh for every request (and every WebSocket operation) by the subgraph's context
getter (each DataLoader when first used), so caching never crosses viewers. Every read
shows what this viewer may see (resolvers/posts/visibility.py).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Mapping
from functools import cached_property
from typing import TypeVar

from aiodataloader import DataLoader

from puppies.pagination import Page, PageRequest
from resolvers.posts import comments, likers, likes, media, posts
from resolvers.posts.live import LikeBroker
from resolvers.posts.publication import post_counts
from resolvers.posts.records import CommentRecord, MediaRecord, PostRecord
from resolvers.runtime import Resources

PageKey = tuple[int, PageRequest]
P = TypeVar("P")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def at_once(
    cache: Mapping[K, asyncio.Future[V]], key: K, load: Callable[[], Awaitable[V]]
) -> V | Awaitable[V]:
    """The value a DataLoader already holds for `key` (its `cache_map` is `cache`), else
    `load()`: a field answered from what an earlier statement read needs no coroutine, and
    graphql-core then runs no task for it (bench/RESULTS.md, session 20)."""
    found = cache.get(key)
    if found is not None and found.done() and not found.cancelled() and found.exception() is None:
        return found.result()
    return load()


class PostsLoaders:
    def __init__(self, res: Resources, viewer_id: int | None, broker: LikeBroker) -> None:
        self.res = res
        self.viewer_id = viewer_id
        self.broker = broker
        # the caches of `liked` and `like_count`, read by `viewer_liked` and `like_count_of`
        self._post_cache: dict[int, asyncio.Future[PostRecord | None]] = {}
        self._liked: dict[int, asyncio.Future[bool]] = {}
        self._like_counts: dict[int | PostRecord, asyncio.Future[int]] = {}
        # What a post's statement said (`_posts`), as plain values: a page's 20 posts need
        # no primed future each. Read before the DataLoaders' caches, and, as `prime`, never
        # set for a post those already hold (the first value read in a request stays).
        self._liked_read: dict[int, bool] = {}
        self._counts_read: dict[int, int] = {}
        # Records `posts_many` read before the `post` loader was made, as plain values (no
        # future each: a home feed page's `_entities` makes no loader); primed into the
        # loader when it is made, then None.
        self._held: dict[int, PostRecord | None] | None = {}

    # Each DataLoader is made when a field first asks for it: a request uses one to four
    # of them (the home feed page's: post, media, liked, like_count).

    @cached_property
    def post(self) -> DataLoader[int, PostRecord | None]:
        loader = DataLoader(self._posts, cache_map=self._post_cache)
        held, self._held = self._held, None
        for key, rec in (held or {}).items():
            loader.prime(key, rec)
        return loader

    async def posts_many(self, ids: list[int]) -> list[PostRecord | None]:
        """`post.load_many(ids)`: when no id is cached or on its way, the batch read at once
        (one statement, as the DataLoader's batch) and its records primed, without a future,
        a gather callback and a loop turn per id (`_entities` of a home feed page: 20 posts);
        else through the DataLoader."""
        if not ids:
            return []
        held = self._held
        if held is not None:  # no loader yet: nothing cached, pending or failed
            if any(i in held for i in ids):
                return await self.post.load_many(ids)
            recs = await self._posts(ids)
            held = self._held  # a loader may have been made meanwhile
            if held is not None:
                for i, rec in zip(ids, recs, strict=True):
                    held.setdefault(i, rec)  # as `prime`: the first value read stays
                return recs
        else:
            cache = self._post_cache
            if any(i in cache for i in ids):
                return await self.post.load_many(ids)
            recs = await self._posts(ids)
        post = self.post
        for i, rec in zip(ids, recs, strict=True):
            post.prime(i, rec)  # a post loaded meanwhile (another batch) keeps its value
        return recs

    @cached_property
    def media(self) -> DataLoader[int, list[MediaRecord]]:
        return DataLoader(self._media)

    @cached_property
    def liked(self) -> DataLoader[int, bool]:
        return DataLoader(self._load_liked, cache_map=self._liked)

    @cached_property
    def like_count(self) -> DataLoader[PostRecord, int]:
        return DataLoader(
            self._load_like_counts, get_cache_key=lambda p: p.id, cache_map=self._like_counts
        )

    def viewer_liked(self, post_id: int) -> bool | Awaitable[bool]:
        """`liked.load(post_id)`, answered at once when the post's statement said it."""
        if self.viewer_id is None:
            return False
        found = self._liked_read.get(post_id)
        if found is not None:
            return found
        return at_once(self._liked, post_id, lambda: self.liked.load(post_id))

    def like_count_of(self, post: PostRecord) -> int | Awaitable[int]:
        """`like_count.load(post)`, answered at once when read with the post."""
        found = self._counts_read.get(post.id)
        if found is not None:
            return found
        return at_once(self._like_counts, post.id, lambda: self.like_count.load(post))

    @cached_property
    def comments(self) -> DataLoader[PageKey, Page[CommentRecord]]:
        return DataLoader(self._comments)

    @cached_property
    def replies(self) -> DataLoader[PageKey, Page[CommentRecord]]:
        return DataLoader(self._replies)

    @cached_property
    def comment(self) -> DataLoader[int, CommentRecord | None]:
        return DataLoader(self._comment)

    @cached_property
    def author_posts(self) -> DataLoader[PageKey, Page[PostRecord]]:
        return DataLoader(self._author_posts)

    @cached_property
    def liked_by(self) -> DataLoader[PageKey, Page[int]]:
        return DataLoader(self._liked_by)

    @cached_property
    def post_count(self) -> DataLoader[int, int]:
        """Posts by an author that this viewer may see (their own unpublished ones too)."""
        return DataLoader(self._post_counts)

    async def _posts(self, ids: list[int]) -> list[PostRecord | None]:
        """The posts this viewer may see (None for the others, as for missing ones). The
        same statement says which of them the viewer likes: `liked` is primed with it.
        Their live like counts are read from Redis at the same time (nearly every read of
        a post asks for `likeCount`): `like_count` is primed with them."""
        unique = list(set(ids))
        # Both at once, the counters' read in one task (where `asyncio.gather` makes two
        # and a gathering future): the statement's error first, as gather's would be.
        counting = asyncio.ensure_future(likes.cached_live_counts(self.res, unique))
        try:
            read = await posts.posts_and_likes(self.res, unique, self.viewer_id)
        except BaseException:
            counting.cancel()
            if counting.done() and not counting.cancelled():
                counting.exception()  # retrieved: the statement's error is the one raised
            raise
        live = await counting
        liked_read, counts_read = self._liked_read, self._counts_read
        primed_liked, primed_counts = self._liked, self._like_counts
        signed_in = self.viewer_id is not None
        for post_id, (rec, liked) in read.items():
            # as `prime` would: a value already held for the post stays
            if signed_in and post_id not in primed_liked:
                liked_read.setdefault(post_id, liked)
            if post_id not in primed_counts:
                counts_read.setdefault(post_id, likes.live_count(rec, live))
        return [read[i][0] if i in read else None for i in ids]

    async def _comment(self, ids: list[int]) -> list[CommentRecord | None]:
        found = await comments.comments_by_ids(self.res, list(set(ids)), self.viewer_id)
        return [found.get(i) for i in ids]

    async def _post_counts(self, author_ids: list[int]) -> list[int]:
        found = await post_counts(self.res, author_ids, self.viewer_id)
        out = []
        for author in author_ids:
            published, unpublished = found.get(author, (0, 0))
            out.append(published + (unpublished if author == self.viewer_id else 0))
        return out

    async def _media(self, post_ids: list[int]) -> list[list[MediaRecord]]:
        found = await media.media_for_posts(self.res, list(set(post_ids)))
        return [found.get(i, []) for i in post_ids]

    async def _load_liked(self, post_ids: list[int]) -> list[bool]:
        if self.viewer_id is None:
            return [False] * len(post_ids)
        found = await likes.liked_by(self.res, self.viewer_id, list(set(post_ids)))
        return [i in found for i in post_ids]

    async def _load_like_counts(self, records: list[PostRecord]) -> list[int]:
        return await likes.live_counts(self.res, records)

    async def _paged(
        self,
        keys: list[PageKey],
        fetch: Callable[[list[int], PageRequest], Awaitable[dict[int, P]]],
    ) -> list[P]:
        """One statement per distinct page request among `keys` (usually one)."""
        by_request: dict[PageRequest, list[int]] = defaultdict(list)
        for owner, req in keys:
            by_request[req].append(owner)
        pages: dict[PageKey, P] = {}
        for req, ids in by_request.items():
            for owner, page in (await fetch(list(set(ids)), req)).items():
                pages[(owner, req)] = page
        return [pages[k] for k in keys]

    async def _comments(self, keys: list[PageKey]) -> list[Page[CommentRecord]]:
        return await self._paged(
            keys, lambda ids, req: comments.comment_pages(self.res, ids, req, self.viewer_id)
        )

    async def _replies(self, keys: list[PageKey]) -> list[Page[CommentRecord]]:
        return await self._paged(
            keys, lambda ids, req: comments.reply_pages(self.res, ids, req, self.viewer_id)
        )

    async def _author_posts(self, keys: list[PageKey]) -> list[Page[PostRecord]]:
        return await self._paged(
            keys,
            lambda ids, req: posts.posts_pages_by_author(self.res, ids, req, self.viewer_id),
        )

    async def _liked_by(self, keys: list[PageKey]) -> list[Page[int]]:
        return await self._paged(
            keys, lambda ids, req: likers.liker_pages(self.res, ids, req, self.viewer_id)
        )
