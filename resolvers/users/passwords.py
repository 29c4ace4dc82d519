"""Passwords: argon2id (argon2-cffi's RFC 9106 low-memory profile), hashed off the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()  # argon2id, t=3, m=64 MiB, p=4
# Verified when the login names no account, so "no such user" costs as much as "wrong password".
_DUMMY_HASH = _HASHER.hash("puppies-dummy-password")

MIN_LENGTH = 10
MAX_LENGTH = 256
COMMON = frozenset(
    {
        "password",
        "password1",
        "password12",
        "password123",
        "1234567890",
        "qwertyuiop",
        "iloveyou12",
        "letmein123",
        "welcome123",
        "123456789a",
        "abc1234567",
        "passw0rd12",
        "qwerty1234",
        "1q2w3e4r5t",
        "administrator",
    }
)


def password_problem(password: str, *, username: str, email: str) -> str | None:
    """Why this password is too weak, or None."""
    if len(password) < MIN_LENGTH:
        return f"use at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"use at most {MAX_LENGTH} characters"
    lowered = password.lower()
    if lowered in COMMON:
        return "this password is too common"
    if len(set(password)) < 5:
        return "use a greater variety of characters"
    local = email.split("@", 1)[0].lower()
    if username.lower() in lowered or (len(local) >= 4 and local in lowered):
        return "the password must not contain your username or email"
    return None


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_HASHER.hash, password)


def hash_password_sync(password: str) -> str:
    return _HASHER.hash(password)


async def verify_password(stored_hash: str | None, password: str) -> bool:
    def _verify() -> bool:
        try:
            return _HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(_verify)


def needs_rehash(stored_hash: str) -> bool:
    return _HASHER.check_needs_rehash(stored_hash)
