"""How a result was made: the versions that ran, the code's commit, and when.

Run folders and sweep folders record these in their manifest.json, so that a result can be
traced to the code and libraries that produced it.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

REPO_DIR = Path(__file__).resolve().parents[2]  # the checkout, when run from one
VERSIONED = ("aibubble", "mesa", "numpy", "pandas", "pyarrow", "matplotlib")


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def version(dist: str) -> str | None:
    """The installed version of a distribution, or None if it is not installed."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    """Output of a git command in the code's checkout, or None (no git, not a checkout, no commit)."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO_DIR, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_state() -> dict[str, Any]:
    """Commit of the code that ran and whether it had uncommitted changes (None: unknown, e.g.
    a wheel install, even inside someone else's repository)."""
    top = _git("rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != REPO_DIR:
        return {"commit": None, "dirty": None}
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain")
    return {"commit": commit, "dirty": None if status is None else bool(status)}
