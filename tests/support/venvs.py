"""Fresh virtual environments for the packaging checks (tests/test_packaging.py, scripts/check_floors.py): a
wheel of the repository built from a copy of its sources, a new venv with a current pip, installs into it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# What a build needs besides the sources: not the venv, the VCS, caches or earlier build trees.
_NOT_SOURCES = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
                                      ".hypothesis", "mutants", "logs", "*.db", "*.db-*", "*.db.lock")


def run(command: list, cwd: Path | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run `command` with the environment less anything pointing at the repository's venv or sources."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    result = subprocess.run([str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"{command} exited {result.returncode}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def build_wheel(workdir: Path) -> Path:
    """Build cascrawl's wheel from a copy of the repository's sources (the build writes build/ trees next to
    them, which must not land in the checkout); returns the .whl path."""
    sources = workdir / "sources"
    shutil.copytree(REPO, sources, ignore=_NOT_SOURCES)
    out = workdir / "wheels"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", out, sources])
    (wheel,) = out.glob("cascrawl-*.whl")
    return wheel


def new_venv(path: Path) -> Path:
    """A new venv at `path` with an up-to-date pip (the interpreter's own pip may be too old to resolve
    lxml[html-clean], which scrapy asks for); returns its python."""
    base = getattr(sys, "_base_executable", sys.executable)
    run([base, "-m", "venv", path])
    python = path / "bin" / "python"
    run([python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    return python
