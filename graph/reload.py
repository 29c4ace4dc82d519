"""``--hot-reload``: serve a new supergraph file or router.yaml without a restart.

A background task looks at the files' modification times every second. When one changed it
loads both again; a file that does not load (bad YAML, an unknown key, a broken supergraph)
is logged and the router keeps serving what it had. Requests in flight finish on the pipeline
(and gateway) they started with; the old pipeline's stages are stopped and its gateway's
connection pools closed a minute later.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from graph.config import load_config

if TYPE_CHECKING:
    from graph.app import RouterApp
    from graph.serving.pipeline import Pipeline

logger = logging.getLogger("graph.reload")

OLD_PIPELINE_GRACE = 60.0


class HotReload:
    """Watches the supergraph file (and router.yaml, when there is one) of a router."""

    def __init__(
        self,
        router: RouterApp,
        supergraph_path: str | Path,
        config_path: str | Path | None,
        *,
        listen: str | None = None,
        interval: float = 1.0,
        grace: float = OLD_PIPELINE_GRACE,
    ) -> None:
        self.router = router
        self.paths = [Path(supergraph_path)] + ([Path(config_path)] if config_path else [])
        self.supergraph_path = Path(supergraph_path)
        self.config_path = Path(config_path) if config_path else None
        self.interval = interval
        self.grace = grace
        self.listen_override = listen
        self.seen = self._stamps()
        self.reloads = 0

    def _stamps(self) -> list[tuple[float, int] | None]:
        stamps: list[tuple[float, int] | None] = []
        for path in self.paths:
            try:
                stat = path.stat()
                stamps.append((stat.st_mtime, stat.st_size))
            except OSError:
                stamps.append(None)
        return stamps

    async def run(self) -> None:
        pending: set[asyncio.Task[None]] = set()
        try:
            while True:
                await asyncio.sleep(self.interval)
                stamps = self._stamps()
                if stamps == self.seen:
                    continue
                self.seen = stamps
                old = await self.reload()
                if old is not None:
                    task = asyncio.create_task(self._close_later(old))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                    del old  # _close_later holds it until retired
        finally:
            for task in pending:
                task.cancel()

    async def reload(self) -> Pipeline | None:
        """Load the files again and swap them in; the old pipeline, or None if nothing
        changed because a file did not load."""
        listen = self.router.config.supergraph.listen
        try:
            config = load_config(self.config_path)
            sdl = self.supergraph_path.read_text(encoding="utf-8")
            if self.listen_override is not None:
                config = config.model_copy(
                    update={
                        "supergraph": config.supergraph.model_copy(
                            update={"listen": self.listen_override}
                        )
                    }
                )
            if config.supergraph.listen != listen:
                logger.warning(
                    "supergraph.listen changed to %s: a new address needs a restart; "
                    "still listening on %s",
                    config.supergraph.listen,
                    listen,
                )
                config = config.model_copy(
                    update={"supergraph": config.supergraph.model_copy(update={"listen": listen})}
                )
            old = await self.router.replace(sdl, config)
        except Exception as exc:  # bad YAML or keys, unreadable file, a broken supergraph
            logger.error("hot reload failed, still serving the previous version: %s", exc)
            return None
        self.reloads += 1
        logger.warning("hot reload: now serving %s", self.supergraph_path)
        return old

    async def _close_later(self, pipeline: Pipeline) -> None:
        await asyncio.sleep(self.grace)
        await self.router.retire(pipeline)
        del pipeline  # the last reference: collectable once unfrozen
        self.router.refreeze()
