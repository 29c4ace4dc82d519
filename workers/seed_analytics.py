"""`puppies seed`: the analytics domain's part, called by workers.seed.

    await seed_analytics(settings, user_ids, rng=rng)

For the demo accounts' posts (asked of the posts domain's resolvers) it records their
authorship, then client events through the production recording path: views of each post
(a power-law number, so a few posts are hot) and profile views, spread over the last 7
days so dashboards have a daily series, and rolls them up. Event ids derive from the post
or user and an ordinal, so re-running records only what is not there yet.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from tqdm import tqdm

from puppies.pagination import PageRequest
from puppies.settings import Settings
from resolvers.analytics.domain import remember_posts
from resolvers.analytics.events import Row, client_event_uuid, record
from resolvers.analytics.rollup import roll_up_all
from resolvers.posts.posts import posts_pages_by_author
from resolvers.runtime import Resources

CHUNK = 5000
AUTHORS_PER_QUERY = 500
DAYS = 7


async def seed_analytics(
    settings: Settings,
    user_ids: Sequence[int],
    *,
    rng: random.Random,
    views: int = 20,
    progress: bool = True,
) -> int:
    """Returns the number of events recorded."""
    res = Resources.open(settings)
    try:
        request = PageRequest(settings.max_page_size, None)
        posts: list[tuple[int, int, datetime]] = []
        users = list(user_ids)
        for i in range(0, len(users), AUTHORS_PER_QUERY):
            pages = await posts_pages_by_author(res, users[i : i + AUTHORS_PER_QUERY], request)
            posts.extend(
                (r.id, r.author_id, r.created_at) for page in pages.values() for r in page.items
            )
        await remember_posts(res, posts)
        now = datetime.now(UTC)
        start = now - timedelta(days=DAYS)
        span = (now - start).total_seconds()
        rows: list[Row] = []
        for post_id, author_id, _ in posts:
            for k in range(int(views * rng.paretovariate(1.5) / 3)):
                viewer = rng.choice(users)
                rows.append(
                    Row(
                        event_id=client_event_uuid(None, f"seed-v-{post_id}-{k}"),
                        occurred_at=start + timedelta(seconds=rng.random() * span),
                        type="POST_VIEW",
                        source="client",
                        client_event_id=f"seed-v-{post_id}-{k}",
                        actor_id=viewer,
                        post_id=post_id,
                        owner_id=author_id,
                    )
                )
        for user_id in users:
            for k in range(rng.randint(0, 5)):
                viewer = rng.choice(users)
                rows.append(
                    Row(
                        event_id=client_event_uuid(None, f"seed-p-{user_id}-{k}"),
                        occurred_at=start + timedelta(seconds=rng.random() * span),
                        type="PROFILE_VIEW",
                        source="client",
                        client_event_id=f"seed-p-{user_id}-{k}",
                        actor_id=viewer,
                        user_id=user_id,
                    )
                )
        recorded = 0
        with tqdm(
            total=len(rows), desc="analytics events", unit="event", disable=not progress
        ) as bar:
            for i in range(0, len(rows), CHUNK):
                recorded += len(await record(res, rows[i : i + CHUNK]))
                bar.update(len(rows[i : i + CHUNK]))
        await roll_up_all(res)
        return recorded
    finally:
        await res.close()
