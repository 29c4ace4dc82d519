"""The feed domain's privacy rules (docs/privacy.md). Everything here is derived from
follows and posts, so nothing is exported and everything naming the user is deleted."""

from __future__ import annotations

from resolvers.privacy.registry import PRIVACY

PRIVACY.derived(
    "feed.inbox",
    "viewer_id",
    "author_id",
    reason="the home timeline: the user's own, and the user's posts in others' timelines",
)
PRIVACY.derived("feed.vip", "author_id", reason="whether the user's posts are merged at read time")
PRIVACY.derived(
    "feed.vip_follow", "viewer_id", "vip_id", reason="the feed's copy of follows of VIP authors"
)
PRIVACY.derived("feed.vip_post", "author_id", reason="a VIP author's recent post ids")
PRIVACY.derived("feed.fanout", "author_id", reason="how far each post's fan-out got")
