"""axe-core for the accessibility tests: the npm package at the version tests/a11y/package-lock.json
pins, installed with `npm ci` into tests/a11y/node_modules on first use (git-ignored, kept)."""

from __future__ import annotations

import fcntl
import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

import pytest


def _pinned_axe(folder: Path) -> str:
    """The axe-core version package-lock.json pins."""
    lock = json.loads((folder / "package-lock.json").read_text(encoding="utf-8"))
    return str(lock["packages"]["node_modules/axe-core"]["version"])


def _installed_axe(folder: Path) -> str | None:
    manifest = folder / "node_modules" / "axe-core" / "package.json"
    if not manifest.exists():
        return None
    return str(json.loads(manifest.read_text(encoding="utf-8"))["version"])


def install_axe(folder: Path, environ: Mapping[str, str], npm: str | None) -> Path:
    """axe.min.js at the pinned version, installed with `npm ci` into `folder`/node_modules when it
    is missing or another version (one installer at a time: the test workers share the folder).
    Without npm, or when the install fails, skips saying what to do; under CI=true, fails."""

    def missing(reason: str) -> NoReturn:
        if environ.get("CI"):
            pytest.fail(f"the accessibility tests must run under CI: {reason}")
        pytest.skip(reason)

    script = folder / "node_modules" / "axe-core" / "axe.min.js"
    pinned = _pinned_axe(folder)
    with (folder / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed_axe(folder) == pinned and script.exists():
            return script
        if npm is None:
            missing("npm is missing: install Node.js and npm (apt-get install nodejs npm)")
        done = subprocess.run(
            [npm, "ci", "--prefix", str(folder), "--ignore-scripts", "--no-audit", "--no-fund"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0 or _installed_axe(folder) != pinned:
            tail = " ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
            missing(f"`npm ci --prefix {folder}` could not install axe-core {pinned}: {tail}")
    return script
