"""Write a finished run to disk as one self-describing folder.

The folder is assembled under a hidden temporary name and renamed into place at the end, so a
reader (a sweep, a notebook, a person) never sees a half-written run: a run folder either has
everything or does not exist.
"""

from __future__ import annotations

import errno
import os
import platform
import shutil
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from aibubble.experiments import finance_plots, plots
from aibubble.experiments.files import safe_name, save_figure, write_json, write_parquet
from aibubble.experiments.provenance import VERSIONED, git_state, version


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
        "versions": {dist: version(dist) for dist in VERSIONED},
        "git": git_state(),
    }


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
    safe = safe_name(name, "run")
    tmp = out_root / f".{safe}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        config = model.config.model_dump(mode="json")
        header = f"# resolved config of run '{name}'; repeat it with: aibubble run <this file>\n"
        (tmp / "config.yaml").write_text(header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
        write_json(tmp / "manifest.json", manifest(model, command, now))

        model_df = model.model_frame()
        events_df = model.events_frame()
        write_parquet(model_df, tmp / "model.parquet")
        write_parquet(model.agent_frame(), tmp / "agents.parquet")
        write_parquet(events_df, tmp / "events.parquet")
        summary = model.summary()
        write_json(tmp / "summary.json", summary)

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
        save_figure(fig, tmp / "dashboard.png")
        fin = model.finance_frame()
        vintages = model.vintage_frame()
        write_parquet(fin, tmp / "finance.parquet")
        vintages.to_csv(tmp / "vintages.csv", index=False)
        fig = finance_plots.finance_dashboard(model_df, fin, vintages, summary, model.config, title)
        save_figure(fig, tmp / "finance.png")
        if extra is not None:
            extra(tmp)

        stamp = now.astimezone().strftime("%Y%m%d-%H%M%S")
        return _move_into_place(tmp, out_root, f"{stamp}_{safe}")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
