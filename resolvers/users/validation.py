"""Input checks for the users domain; malformed input raises BadInput (BAD_USER_INPUT)."""

from __future__ import annotations

import re

from resolvers.errors import BadInput

USERNAME_RE = re.compile(r"^[A-Za-z0-9_]{3,30}$")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
RESERVED = frozenset({"admin", "root", "me", "puppies", "support", "api", "graphql"})
MAX_DISPLAY_NAME = 50
MAX_BIO = 280
MAX_KEY_NAME = 60


def username(value: str, field: str = "username") -> str:
    value = value.strip()
    if not USERNAME_RE.match(value):
        raise BadInput("a username is 3 to 30 letters, digits or underscores", field=field)
    if value.lower() in RESERVED:
        raise BadInput(f"the username {value!r} is reserved", field=field)
    return value


def email(value: str, field: str = "email") -> str:
    value = value.strip()
    if len(value) > 254 or not EMAIL_RE.match(value):
        raise BadInput("this is not an email address", field=field)
    return value.lower()


def display_name(value: str) -> str:
    value = " ".join(value.split())
    if len(value) > MAX_DISPLAY_NAME:
        raise BadInput(
            f"a display name is at most {MAX_DISPLAY_NAME} characters", field="displayName"
        )
    return value


def bio(value: str) -> str:
    value = value.strip()
    if len(value) > MAX_BIO:
        raise BadInput(f"a bio is at most {MAX_BIO} characters", field="bio")
    return value
