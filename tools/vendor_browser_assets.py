"""Refresh the browser assets vendored from npm (`make vendor`).

The router ships GraphiQL inside the Python package (graph/serving/ide/static/vendor/) and
the web client ships the graphql-ws client (web/vendor/graphql-ws/), so both work offline
and nothing is loaded from a CDN. This script installs the pinned npm packages into a
temporary directory (``npm install --ignore-scripts``: nothing of theirs runs), copies the
built files we serve, and writes, next to them, ``versions.json`` (what was copied, from
which package version, with npm's integrity hash) and ``THIRD_PARTY_LICENSES.txt`` (the
license of every package installed with them: the GraphiQL bundle contains code of many).

Change a pin in PINS, run ``make vendor``, look at the IDE and the app, commit the result.
Needs ``npm`` and the npm registry; nothing else in the project does.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IDE_VENDOR = ROOT / "graph" / "serving" / "ide" / "static" / "vendor"
WEB_VENDOR = ROOT / "web" / "vendor" / "graphql-ws"

# GraphiQL 4.1 is the last release that ships a prebuilt browser bundle (UMD, with
# graphql-js and graphql-ws inside); GraphiQL 5 is ES modules for a bundler. React 18 is
# the last React with UMD builds, and GraphiQL 4 supports it.
PINS = {
    "graphiql": "4.1.2",
    "react": "18.3.1",
    "react-dom": "18.3.1",
    "graphql": "16.11.0",
    "graphql-ws": "6.4.2",
}


@dataclass(frozen=True)
class Copy:
    package: str
    source: str  # path inside the package
    target: Path  # file we write


COPIES = [
    Copy("graphiql", "graphiql.min.js", IDE_VENDOR / "graphiql.min.js"),
    Copy("graphiql", "graphiql.min.css", IDE_VENDOR / "graphiql.min.css"),
    Copy("react", "umd/react.production.min.js", IDE_VENDOR / "react.production.min.js"),
    Copy(
        "react-dom", "umd/react-dom.production.min.js", IDE_VENDOR / "react-dom.production.min.js"
    ),
    Copy("graphql-ws", "dist/client.js", WEB_VENDOR / "client.js"),
    Copy("graphql-ws", "LICENSE.md", WEB_VENDOR / "LICENSE.md"),
]

_RELATIVE_IMPORT = re.compile(r"""from\s+['"]\./([\w.-]+\.js)['"]""")


def npm_install(workdir: Path) -> Path:
    """Install the pinned packages into ``workdir``; returns its node_modules."""
    (workdir / "package.json").write_text('{"name": "puppies-vendor", "private": true}\n')
    specs = [f"{name}@{version}" for name, version in PINS.items()]
    print(f"--> npm install {' '.join(specs)}")
    subprocess.run(
        ["npm", "install", "--no-save", "--ignore-scripts", "--no-audit", "--no-fund", *specs],
        cwd=workdir,
        check=True,
    )
    return workdir / "node_modules"


def package_json(directory: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((directory / "package.json").read_text())
    return data


def copy_files(modules: Path) -> dict[str, dict[str, str]]:
    """Copy every file of COPIES (and the chunks graphql-ws' client imports)."""
    for target_dir in {c.target.parent for c in COPIES}:
        if target_dir.exists():
            shutil.rmtree(target_dir)
        target_dir.mkdir(parents=True)
    copied: dict[str, dict[str, str]] = {}
    queue = list(COPIES)
    while queue:
        copy = queue.pop(0)
        source = modules / copy.package / copy.source
        shutil.copyfile(source, copy.target)
        info = package_json(modules / copy.package)
        copied[str(copy.target.relative_to(ROOT))] = {
            "package": copy.package,
            "version": str(info["version"]),
            "file": copy.source,
        }
        if copy.target.suffix == ".js" and copy.target.parent == WEB_VENDOR:
            # an ES module's relative imports are files we must serve next to it
            for chunk in _RELATIVE_IMPORT.findall(source.read_text()):
                target = WEB_VENDOR / chunk
                if str(target.relative_to(ROOT)) not in copied:
                    folder = str(Path(copy.source).parent)
                    queue.append(Copy(copy.package, f"{folder}/{chunk}", target))
    return copied


def integrity(modules: Path) -> dict[str, str]:
    """npm's integrity hash of each pinned package, from the lock npm wrote."""
    lock = json.loads((modules / ".package-lock.json").read_text())
    return {
        name: str(lock["packages"][f"node_modules/{name}"].get("integrity", "")) for name in PINS
    }


def licenses(modules: Path) -> str:
    """Every installed package's license text (or its declared license)."""
    parts = [
        "Third-party software in the vendored browser assets of Puppies.\n"
        "GraphiQL's bundle (graphiql.min.js) contains code of the packages below; React\n"
        "and graphql-ws are copied as published. Written by tools/vendor_browser_assets.py.\n"
    ]
    directories = sorted(
        p.parent for p in modules.glob("*/package.json") if not p.parent.name.startswith(".")
    ) + sorted(p.parent for p in modules.glob("@*/*/package.json"))
    for directory in directories:
        info = package_json(directory)
        name, version = info.get("name", directory.name), info.get("version", "?")
        texts = [
            f
            for f in sorted(directory.iterdir())
            if f.is_file() and re.match(r"(?i)^(licen[cs]e|copying)", f.name)
        ]
        body = (
            texts[0].read_text(errors="replace").strip()
            if texts
            else f"(no license file; package.json declares: {info.get('license', 'none')})"
        )
        parts.append(f"{'=' * 78}\n{name}@{version}\n{'=' * 78}\n{body}\n")
    return "\n".join(parts)


def main() -> int:
    if shutil.which("npm") is None:
        print("npm is needed to refresh the vendored assets (apt-get install npm)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="puppies-vendor-") as tmp:
        modules = npm_install(Path(tmp))
        copied = copy_files(modules)
        hashes = integrity(modules)
        for directory in (IDE_VENDOR, WEB_VENDOR):
            files = {
                path: info for path, info in copied.items() if (ROOT / path).parent == directory
            }
            used = sorted({info["package"] for info in files.values()})
            manifest = {
                "generated_by": "tools/vendor_browser_assets.py (make vendor)",
                "packages": {n: {"version": PINS[n], "integrity": hashes[n]} for n in used},
                "files": files,
            }
            text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
            (directory / "versions.json").write_text(text)
        notice = licenses(modules)
        (IDE_VENDOR / "THIRD_PARTY_LICENSES.txt").write_text(notice)
    for path in sorted(copied):
        print(f"    {path}  ({copied[path]['package']}@{copied[path]['version']})")
    print("==> vendored; check the IDE and /app, then commit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
