"""Merging GraphQL type references across subgraphs (`String` vs `String!`, lists, subtypes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class TypeRef:
    """A parsed type reference: `name` for a named type, else `of_type` wrapped by list/non-null."""

    non_null: bool
    is_list: bool
    name: str | None = None
    of_type: TypeRef | None = None

    def __str__(self) -> str:
        inner = f"[{self.of_type}]" if self.is_list else str(self.name)
        return inner + ("!" if self.non_null else "")


def parse_type(text: str) -> TypeRef:
    non_null = text.endswith("!")
    core = text[:-1] if non_null else text
    if core.startswith("["):
        return TypeRef(non_null, True, of_type=parse_type(core[1:-1]))
    return TypeRef(non_null, False, name=core)


IsSubtype = Callable[[str, str], bool]


def merge_output_types(types: list[str], is_subtype: IsSubtype) -> str | None:
    """The most general of several output types, or None when they are incompatible."""
    refs = [parse_type(t) for t in types]
    merged = refs[0]
    for ref in refs[1:]:
        result = _merge(merged, ref, is_subtype, output=True)
        if result is None:
            return None
        merged = result
    return str(merged)


def merge_input_types(types: list[str]) -> str | None:
    """The most restrictive of several input types, or None when they are incompatible."""
    refs = [parse_type(t) for t in types]
    merged = refs[0]
    for ref in refs[1:]:
        result = _merge(merged, ref, lambda _a, _b: False, output=False)
        if result is None:
            return None
        merged = result
    return str(merged)


def _merge(a: TypeRef, b: TypeRef, is_subtype: IsSubtype, output: bool) -> TypeRef | None:
    non_null = (a.non_null and b.non_null) if output else (a.non_null or b.non_null)
    if a.is_list != b.is_list:
        return None
    if a.is_list:
        assert a.of_type is not None and b.of_type is not None
        inner = _merge(a.of_type, b.of_type, is_subtype, output)
        return None if inner is None else TypeRef(non_null, True, of_type=inner)
    assert a.name is not None and b.name is not None
    if a.name == b.name:
        return TypeRef(non_null, False, name=a.name)
    if output and is_subtype(a.name, b.name):
        return TypeRef(non_null, False, name=a.name)
    if output and is_subtype(b.name, a.name):
        return TypeRef(non_null, False, name=b.name)
    return None
