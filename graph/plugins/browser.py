"""Config of what the router serves to browsers (Puppies' own keys; the behaviour is in
graph/serving/ide/ and graph/serving/static_files.py).

- ``graphiql``: the GraphQL IDE at ``supergraph.path`` for a browser (a ``GET`` whose
  ``Accept`` lists ``text/html``), as Apollo Router's ``sandbox`` serves one there.
- ``static_files``: directories served as they are, e.g. the web client at ``/app``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from graph.plugins.base import StrictModel


class GraphiQLConfig(StrictModel):
    """``graphiql``: the IDE for browsers at ``supergraph.path``; needs introspection."""

    enabled: bool = False
    title: str = Field(default="GraphiQL", min_length=1, max_length=200)
    default_query: str | None = Field(default=None, max_length=100_000)


class StaticMount(StrictModel):
    """One entry of ``static_files``."""

    path: str  # the URL prefix, e.g. /app
    dir: str  # the directory served (relative to router.yaml's directory)
    index: str = "index.html"

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or value == "/":
            raise ValueError(f"a mount path starts with '/' and names a prefix, got {value!r}")
        if value.startswith("/-/"):
            raise ValueError(f"{value!r}: paths under /-/ are the router's own")
        if "?" in value or "#" in value or "//" in value or "/../" in f"{value}/":
            raise ValueError(f"{value!r} is not a plain URL path")
        return value.rstrip("/")

    @field_validator("dir")
    @classmethod
    def _dir(cls, value: str) -> str:
        if not Path(value).is_dir():
            raise ValueError(f"{value!r} is not a directory")
        return value

    @field_validator("index")
    @classmethod
    def _index(cls, value: str) -> str:
        if not value or "/" in value or value in (".", ".."):
            raise ValueError(f"index is a file name, got {value!r}")
        return value
