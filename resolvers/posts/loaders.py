"""Per-request DataLoaders of the posts domain: one statement per list level.

Built fresh for every request (and every WebSocket operation) by the subgraph's context
getter (each DataLoader when first used), so caching never crosses viewers. Every read
shows what this viewer may see (resolvers/posts/visibility.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
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


class PostsLoaders:
    def __init__(self, res: Resources, viewer_id: int | None, broker: LikeBroker) -> None:
        self.res = res
        self.viewer_id = viewer_id
        self.broker = broker

    # Each DataLoader is made when a field first asks for it: a request uses one to four
    # of them (the home feed page's: post, media, liked, like_count).

    @cached_property
    def post(self) -> DataLoader[int, PostRecord | None]:
        return DataLoader(self._posts)

    @cached_property
    def media(self) -> DataLoader[int, list[MediaRecord]]:
        return DataLoader(self._media)

    @cached_property
    def liked(self) -> DataLoader[int, bool]:
        return DataLoader(self._liked)

    @cached_property
    def like_count(self) -> DataLoader[PostRecord, int]:
        return DataLoader(self._like_counts, get_cache_key=lambda p: p.id)

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
        same statement says which of them the viewer likes: `liked` is primed with it."""
        found = await posts.posts_and_likes(self.res, list(set(ids)), self.viewer_id)
        if self.viewer_id is not None:
            for post_id, (_, liked) in found.items():
                self.liked.prime(post_id, liked)
        return [found[i][0] if i in found else None for i in ids]

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

    async def _liked(self, post_ids: list[int]) -> list[bool]:
        if self.viewer_id is None:
            return [False] * len(post_ids)
        found = await likes.liked_by(self.res, self.viewer_id, list(set(post_ids)))
        return [i in found for i in post_ids]

    async def _like_counts(self, records: list[PostRecord]) -> list[int]:
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
