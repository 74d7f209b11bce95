"""The committed browser bundle is exactly what the locked sources build (docs/browser-crypto.md).

A fresh `build.sh` in a temporary directory, from the committed `package.json`,
`package-lock.json` and sources (`npm ci` from the registry), must produce the committed
`securevote.js` byte for byte, and `securevote.js.sri` must be its SHA-384. Needs Node.js, npm
and the npm registry; without them the test fails, it is never skipped.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

FRONTEND = Path(__file__).resolve().parents[1]
JS = FRONTEND / "js"
STATIC = FRONTEND / "src" / "frontend_service" / "static" / "js"
BUNDLE = STATIC / "securevote.js"
SRI = STATIC / "securevote.js.sri"
BUILD_INPUTS = ["package.json", "package-lock.json", "build.sh", "build.mjs", "src"]


def _sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode("ascii")


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(
            f"{tool} is required to rebuild the browser bundle (Node.js >= 20.19 with npm, "
            "and access to the npm registry)"
        )
    return path


def test_the_sri_file_is_the_sha384_of_the_committed_bundle() -> None:
    assert SRI.read_text(encoding="ascii") == _sri(BUNDLE.read_bytes()) + "\n"


def test_dependencies_are_pinned_exactly_and_locked() -> None:
    package = json.loads((JS / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((JS / "package-lock.json").read_text(encoding="utf-8"))
    declared = {**package["dependencies"], **package["devDependencies"]}
    assert {"@noble/curves", "@noble/hashes", "esbuild"} <= set(declared)
    for name, version in declared.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} must be an exact version"
        locked = lock["packages"][f"node_modules/{name}"]
        assert locked["version"] == version
        assert locked["integrity"].startswith("sha512-")


def test_the_bundle_is_self_contained() -> None:
    """No CDN, no third-party request: nothing is imported or fetched at run time."""
    text = BUNDLE.read_text(encoding="utf-8")
    assert not re.search(r"^\s*import\b", text, re.MULTILINE)
    for needle in (
        "import(",
        "require(",
        "fetch(",
        "XMLHttpRequest",
        "WebSocket",
        "sourceMappingURL",
    ):
        assert needle not in text, needle


def test_a_fresh_build_from_the_lock_file_is_byte_identical(tmp_path: Path) -> None:
    sh = _require("sh")
    _require("node")
    _require("npm")
    work = tmp_path / "js"
    work.mkdir()
    for name in BUILD_INPUTS:
        source = JS / name
        if source.is_dir():
            shutil.copytree(source, work / name)
        else:
            shutil.copy2(source, work / name)
    out = tmp_path / "out"
    result = subprocess.run(
        [sh, str(work / "build.sh"), str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, (
        "build.sh failed (it needs npm and the npm registry):\n" + result.stdout + result.stderr
    )
    rebuilt = (out / "securevote.js").read_bytes()
    assert rebuilt == BUNDLE.read_bytes(), (
        "the committed bundle differs from a fresh build: run `make js` and commit the result"
    )
    assert (out / "securevote.js.sri").read_bytes() == SRI.read_bytes()
