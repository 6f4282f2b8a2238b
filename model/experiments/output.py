"""Write a finished run to disk as one self-describing folder.

The folder is assembled under a hidden temporary name and renamed into place at the end, so a
reader (a sweep, a notebook, a person) never sees a half-written run: a run folder either has
everything or does not exist.
"""

from __future__ import annotations

import errno
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from model.experiments import plots

REPO_DIR = Path(__file__).resolve().parents[2]
VERSIONED = ("aibubble", "mesa", "numpy", "pandas", "pyarrow", "matplotlib")


def _version(dist: str) -> str | None:
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
    """Commit of the code that ran and whether it had uncommitted changes (None: unknown)."""
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain")
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def manifest(model: Any, command: str, now: datetime) -> dict[str, Any]:
    """Everything needed to say how a run was made and to make it again."""
    return {
        "scenario": model.config.name,
        "seed": int(model.seed),
        "steps": int(model.steps),
        "command": command,
        "created_utc": now.astimezone(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": {dist: _version(dist) for dist in VERSIONED},
        "git": git_state(),
    }


def _jsonable(value: Any) -> Any:
    """Plain JSON values: numpy scalars unwrapped, NaN/inf as null (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime | pd.Timestamp):
        return value.isoformat()
    return value


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(_jsonable(data), indent=2, default=str) + "\n")


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    """Parquet; object columns of mixed types (e.g. event details) are stored as text rather than lost."""
    try:
        df.to_parquet(path)
    except (TypeError, ValueError, NotImplementedError):  # pyarrow's ArrowInvalid is a ValueError
        fixed = df.copy()
        for column in fixed.columns:
            if fixed[column].dtype == object:
                fixed[column] = fixed[column].map(lambda v: None if v is None else str(v))
        fixed.to_parquet(path)


def _safe(name: str) -> str:
    """A folder-name fragment: a scenario given as a path must not create sub-folders."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "run"


def _move_into_place(tmp: Path, out_root: Path, base: str) -> Path:
    """Rename the finished temp folder to `base`, or `base-2`, `base-3`, ... if taken."""
    for n in range(1, 1000):
        final = out_root / (base if n == 1 else f"{base}-{n}")
        if final.exists():
            continue
        try:
            os.rename(tmp, final)
        except OSError as exc:  # lost a race with another run of the same second
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                continue
            raise
        return final
    raise FileExistsError(f"{out_root}: no free folder name for {base}")


def write_run(
    model: Any,
    out_root: Path,
    name: str,
    command: str,
    extra: Callable[[Path], None] | None = None,
) -> Path:
    """Write config, manifest, tables, summary and dashboard to `out_root/<timestamp>_<name>/`.

    `extra`, if given, writes more files into the (still temporary) folder before it is renamed
    into place, so they share the folder's all-or-nothing guarantee.
    Returns the final folder. On any error the partial folder is removed and the error re-raised.
    """
    now = datetime.now(UTC)
    out_root = Path(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    safe = _safe(name)
    tmp = out_root / f".{safe}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        config = model.config.model_dump(mode="json")
        header = f"# resolved config of run '{name}'; repeat it with: aibubble run <this file>\n"
        (tmp / "config.yaml").write_text(header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
        _write_json(tmp / "manifest.json", manifest(model, command, now))

        model_df = model.model_frame()
        events_df = model.events_frame()
        _write_parquet(model_df, tmp / "model.parquet")
        _write_parquet(model.agent_frame(), tmp / "agents.parquet")
        _write_parquet(events_df, tmp / "events.parquet")
        summary = model.summary()
        _write_json(tmp / "summary.json", summary)

        title = f"{model.config.name} — seed {model.seed}, {model.steps} months"
        if model.config.description.strip():
            title += f"\n{model.config.description.strip().splitlines()[0]}"
        fig = plots.dashboard(
            model_df,
            events_df,
            summary,
            title,
            utilization_threshold=model.config.bubble.utilization_threshold,
        )
        fig.savefig(tmp / "dashboard.png", dpi=110)
        if extra is not None:
            extra(tmp)

        stamp = now.astimezone().strftime("%Y%m%d-%H%M%S")
        return _move_into_place(tmp, out_root, f"{stamp}_{safe}")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
