"""requirements.lock pins what pyproject.toml asks for, so `make install` is reproducible."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def read_lock(path: Path) -> dict[str, list[tuple[Version, Marker | None]]]:
    """name -> [(version, marker)]; a universal lock may pin a package once per marker."""
    pins: dict[str, list[tuple[Version, Marker | None]]] = {}
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        m = PIN.match(line)
        if not m:
            continue
        assert i + 1 < len(lines) and "--hash=sha256:" in lines[i + 1], f"{line}: no hash"
        marker = Marker(m.group(3)) if m.group(3) else None
        pins.setdefault(canonicalize_name(m.group(1)), []).append((Version(m.group(2)), marker))
    return pins


def declared(extras: tuple[str, ...]) -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    pending = list(extras)
    while pending:
        for raw in project["optional-dependencies"][pending.pop()]:
            req = Requirement(raw)
            if canonicalize_name(req.name) == "puppies":
                pending.extend(req.extras)  # "puppies[embedded]"
            else:
                reqs.append(req)
    return reqs


@pytest.mark.parametrize(
    ("lock", "extras"), [("requirements.lock", ("dev",)), ("requirements-prod.lock", ())]
)
def test_every_declared_requirement_is_pinned_in_the_lock(lock: str, extras: tuple[str, ...]):
    pins = read_lock(REPO / lock)
    problems = []
    for req in declared(extras):
        name = canonicalize_name(req.name)
        if req.marker is not None and not req.marker.evaluate():
            continue
        versions = [v for v, marker in pins.get(name, []) if marker is None or marker.evaluate()]
        if not versions:
            problems.append(f"{req} is not in {lock}")
        elif not any(req.specifier.contains(v, prereleases=True) for v in versions):
            problems.append(f"{req}: {lock} pins {', '.join(map(str, versions))}")
    assert not problems, "; ".join(problems) + ": run `make lock`"


def test_the_image_lock_pins_the_same_versions_as_the_dev_lock():
    dev = read_lock(REPO / "requirements.lock")
    prod = read_lock(REPO / "requirements-prod.lock")
    assert prod, "requirements-prod.lock is empty"
    for name, entries in prod.items():
        assert name in dev, f"{name} is in requirements-prod.lock only: run `make lock`"
        for version, _ in entries:
            assert version in {v for v, _ in dev[name]}, f"{name}=={version}: run `make lock`"


def test_the_installed_packages_are_the_locked_ones():
    """`make install` syncs .venv to the lock: what runs the tests is what the lock says."""
    from importlib.metadata import distributions

    pins = read_lock(REPO / "requirements.lock")
    installed: dict[str, Version] = {
        canonicalize_name(d.metadata["Name"]): Version(d.version) for d in distributions()
    }
    for name, entries in pins.items():
        live = [v for v, marker in entries if marker is None or marker.evaluate()]
        if live and name in installed:
            assert installed[name] in live, f"{name} {installed[name]} installed, lock: {live}"
    missing = [n for n, e in pins.items() if any(m is None for _, m in e) and n not in installed]
    assert not missing, f"locked but not installed: {missing} (run `make install`)"
