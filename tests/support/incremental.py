"""What a client does with an incremental response (@defer/@stream): merge its parts into
one result, in either wire format (deferSpec=20220824 or incrementalSpec=v0.2)."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
from python_multipart.multipart import MultipartParser

_MISSING = object()


def _at(value: Any, path: list[Any]) -> Any:
    for key in path:
        if isinstance(key, int):
            if not isinstance(value, list) or key >= len(value):
                return _MISSING
        elif not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value


def _merge(old: Any, new: Any) -> Any:
    if isinstance(old, dict) and isinstance(new, dict):
        out = dict(old)
        for k, v in new.items():
            out[k] = _merge(old[k], v) if k in old else v
        return out
    if isinstance(old, list) and isinstance(new, list):
        # Index by index, the longer list's other items kept (as Apollo Client's DeepMerger
        # does): a part's data may have a streamed list's first items only.
        merged = [_merge(a, b) for a, b in zip(old, new, strict=False)]
        return merged + (old[len(new) :] if len(old) > len(new) else new[len(old) :])
    return new


def _graft(tree: Any, path: list[Any], value: Any) -> Any:
    if not path:
        return _merge(tree, value)
    key, rest = path[0], path[1:]
    if isinstance(key, int):
        assert isinstance(tree, list) and key < len(tree), (tree, path)
        out = list(tree)
        out[key] = _graft(tree[key], rest, value)
        return out
    assert isinstance(tree, dict), (tree, path)
    out_d = dict(tree)
    out_d[key] = _graft(tree.get(key), rest, value)
    return out_d


def _append(tree: Any, path: list[Any], items: list[Any]) -> Any:
    """`tree` with `items` appended to the list at `path`."""
    current = _at(tree, path)
    assert isinstance(current, list), (path, current)
    if not path:
        return [*current, *items]
    parent, key = path[:-1], path[-1]
    return _graft(tree, parent, {key: [*current, *items]}) if isinstance(key, str) else tree


def _nulled(data: Any, path: list[Any]) -> list[Any] | None:
    """The place on `path` where `data` stops (a null or nothing), if it does."""
    current = data
    for i, key in enumerate(path):
        if current is None:
            return path[:i]
        if isinstance(key, int):
            if not isinstance(current, list) or key >= len(current):
                return path[:i]
        elif not isinstance(current, dict) or key not in current:
            return path[:i]
        current = current[key]
    return None


def _prune(data: Any, path: list[Any]) -> Any:
    if not path:
        return "<nulled>"
    if isinstance(data, dict) and path[0] in data:
        return {**data, path[0]: _prune(data[path[0]], path[1:])}
    if isinstance(data, list) and isinstance(path[0], int) and path[0] < len(data):
        out = list(data)
        out[path[0]] = _prune(data[path[0]], path[1:])
        return out
    return data


def _error_key(e: dict[str, Any]) -> tuple[str, Any]:
    return (str(e.get("path")), e.get("message"))


def same_answer(merged: dict[str, Any], whole: dict[str, Any]) -> bool:
    """Equal, or equal once the places the whole answer nulled (above a deferred part's own
    null) are left out of both; with the same errors, except that an error of a part that
    was never delivered (its place is under a null or an item the merged data does not
    have: an earlier part's null removed it) is missing from the merged errors."""
    if merged == whole:
        return True
    mine = Counter(map(_error_key, merged.get("errors", ())))
    theirs = Counter(map(_error_key, whole.get("errors", ())))
    if mine - theirs:
        return False  # an error the whole answer does not have
    a, b = merged.get("data"), whole.get("data")
    missing = theirs - mine
    for e in whole.get("errors", ()):
        path = e.get("path")
        lost = missing[_error_key(e)] > 0
        if lost and (not isinstance(path, list) or _nulled(a, path) is None):
            return False  # a delivered part lost its error
        if not isinstance(path, list):
            continue
        cut = _nulled(b, path)
        if cut is not None:
            a, b = _prune(a, cut), _prune(b, cut)
    return a == b


def merge_payloads(payloads: list[dict[str, Any]]) -> dict[str, Any]:
    """The data and every error of an incremental response's parts, as a client merges them
    (deferred data at its path, streamed items appended to their list). Checks the framing
    on the way: `hasNext` true on every part but the last; every v0.2 id announced as
    pending before it is used and completed once."""
    first = payloads[0]
    assert all(p.get("hasNext") is True for p in payloads[:-1]), payloads
    assert payloads[-1].get("hasNext", False) is False, payloads[-1]
    data = first.get("data")
    errors = list(first.get("errors") or ())
    paths: dict[str, list[Any]] = {p["id"]: p["path"] for p in first.get("pending") or ()}
    completed: set[str] = set()
    for payload in payloads[1:]:
        for p in payload.get("pending") or ():
            assert p["id"] not in paths, p
            paths[p["id"]] = p["path"]
        for item in payload.get("incremental") or ():
            errors.extend(item.get("errors") or ())
            if "id" in item:  # incrementalSpec=v0.2
                assert item["id"] in paths and item["id"] not in completed, item
                path = [*paths[item["id"]], *(item.get("subPath") or ())]
                if "items" in item:
                    data = _append(data, path, item["items"])
                else:
                    data = _graft(data, path, item["data"])
            elif "items" in item:  # deferSpec=20220824: path ends with the first index
                if item["items"] is not None:
                    data = _append(data, item["path"][:-1], item["items"])
            elif item.get("data") is not None:
                data = _graft(data, item["path"], item["data"])
        for c in payload.get("completed") or ():
            assert c["id"] in paths and c["id"] not in completed, c
            completed.add(c["id"])
            errors.extend(c.get("errors") or ())
    if paths:
        assert completed == set(paths), (paths, completed)
    out: dict[str, Any] = {"data": data}
    if errors:
        out["errors"] = errors
    return out


class MultipartParts:
    """The parts of a `multipart/mixed` response, parsed as they arrive (python-multipart's
    push parser, fed the raw bytes of an httpx streaming response): each part's headers,
    JSON body and the `time.monotonic()` at which its closing delimiter arrived."""

    def __init__(self, response: httpx.Response) -> None:
        content_type = response.headers["content-type"]
        match = re.search(r'boundary="?([^";]+)"?', content_type)
        assert content_type.startswith("multipart/mixed") and match, content_type
        self.response = response
        self.ready: list[Part] = []
        self.ended = False
        self._headers: list[tuple[str, str]] = []
        self._field = self._value = self._data = b""
        self._parser = MultipartParser(
            match.group(1),
            {
                "on_part_begin": self._begin,
                "on_header_field": self._on_field,
                "on_header_value": self._on_value,
                "on_header_end": self._header_end,
                "on_part_data": self._on_data,
                "on_part_end": self._part_end,
                "on_end": self._end,
            },
        )
        self._chunks = response.aiter_raw()

    def _begin(self) -> None:
        self._headers, self._data = [], b""

    def _on_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _on_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers.append((self._field.decode().lower(), self._value.decode()))
        self._field = self._value = b""

    def _on_data(self, data: bytes, start: int, end: int) -> None:
        self._data += data[start:end]

    def _part_end(self) -> None:
        self.ready.append(Part(dict(self._headers), json.loads(self._data), time.monotonic()))

    def _end(self) -> None:
        self.ended = True

    def __aiter__(self) -> MultipartParts:
        return self

    async def __anext__(self) -> Part:
        while not self.ready:
            if self.ended:
                raise StopAsyncIteration
            try:
                chunk = await anext(self._chunks)
            except StopAsyncIteration:
                assert self.ended, "the response ended without the closing delimiter"
                raise
            self._parser.write(chunk)
        return self.ready.pop(0)


@dataclass
class Part:
    headers: dict[str, str]
    body: Any
    received: float
