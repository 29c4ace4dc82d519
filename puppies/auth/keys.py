"""The users process's signing keys: ES256 (P-256) private keys as PEM files in a directory.

File name `<kid>.pem`; kids sort by creation time (`k<unix-ms>-<random>`), and the newest
key signs. Every key in the directory is published in the JWKS, so rotating (adding a new
key) never invalidates a live token; `prune` removes keys superseded longer ago than the
access-token lifetime. The directory is re-read when it changes, so `puppies keys rotate`
takes effect in a running process without a restart.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc.jwk import ECKey, KeySet

ALGORITHM = "ES256"


def _new_kid(after: Iterable[str] = ()) -> str:
    """A kid that sorts after every kid in `after`, even when made within the same
    millisecond (the newest key is the one that signs)."""
    millis = max([int(time.time() * 1000), *(_kid_millis(k) + 1 for k in after)])
    return f"k{millis:013d}-{secrets.token_hex(4)}"


def _kid_millis(kid: str) -> int:
    try:
        return int(kid[1:].split("-", 1)[0])
    except ValueError:
        return 0


@dataclass(frozen=True)
class SigningKey:
    kid: str
    key: ECKey


class KeyRing:
    """Private keys in `directory`; the newest signs, all are published."""

    def __init__(self, directory: Path, *, reload_interval: float = 1.0) -> None:
        self.directory = directory
        self.reload_interval = reload_interval
        self._keys: list[SigningKey] = []
        self._public: KeySet | None = None
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0

    # -- loading ---------------------------------------------------------------------------
    def _dir_stamp(self) -> tuple[int, int]:
        st = self.directory.stat()
        return (st.st_mtime_ns, len(list(self.directory.glob("*.pem"))))

    def load(self, *, create: bool = True) -> KeyRing:
        """Read the directory (creating it and a first key when empty and `create`)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if create and not any(self.directory.glob("*.pem")):
            self.rotate()
        self._read()
        return self

    def _read(self) -> None:
        keys = []
        for path in sorted(self.directory.glob("*.pem")):
            kid = path.stem
            key = ECKey.import_key(
                path.read_bytes(), parameters={"kid": kid, "alg": ALGORITHM, "use": "sig"}
            )
            keys.append(SigningKey(kid, key))
        keys.sort(key=lambda k: (_kid_millis(k.kid), k.kid))
        self._keys = keys
        self._public = None
        self._stamp = self._dir_stamp()
        self._checked = time.monotonic()

    def refresh(self, *, force: bool = False) -> None:
        """Re-read the directory if it changed (checked at most every `reload_interval`)."""
        now = time.monotonic()
        if not force and now - self._checked < self.reload_interval:
            return
        self._checked = now
        if force or self._dir_stamp() != self._stamp:
            self._read()

    # -- use ---------------------------------------------------------------------------------
    @property
    def keys(self) -> list[SigningKey]:
        self.refresh()
        return list(self._keys)

    def signing_key(self) -> SigningKey:
        keys = self.keys
        if not keys:
            raise RuntimeError(f"no signing key in {self.directory}")
        return keys[-1]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.key.as_dict(private=False) for k in self.keys]}

    def public_key_set(self) -> KeySet:
        """The published keys as a KeySet (rebuilt only when the directory changed)."""
        self.refresh()
        if self._public is None:
            self._public = KeySet.import_key_set(self.jwks())  # type: ignore[arg-type]
        return self._public

    # -- rotation ----------------------------------------------------------------------------
    def rotate(self) -> str:
        """Create a new key, which signs from now on; older keys stay published."""
        self.directory.mkdir(parents=True, exist_ok=True)
        kid = _new_kid(path.stem for path in self.directory.glob("*.pem"))
        key = ECKey.generate_key("P-256", parameters={"kid": kid})
        path = self.directory / f"{kid}.pem"
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.as_pem(private=True))
        tmp.rename(path)
        self._read()
        return kid

    def prune(self, older_than_seconds: float) -> list[str]:
        """Delete keys superseded more than `older_than_seconds` ago (never the newest)."""
        self._read()
        now_ms = time.time() * 1000
        removed = []
        for older, newer in zip(self._keys, self._keys[1:], strict=False):
            if now_ms - _kid_millis(newer.kid) > older_than_seconds * 1000:
                (self.directory / f"{older.kid}.pem").unlink(missing_ok=True)
                removed.append(older.kid)
        self._read()
        return removed
