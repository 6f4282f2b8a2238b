"""What a worker does for one run: build its config, run the model, return summary and series.

Everything a run needs comes in its task (see `Prepared.task`) and everything it found goes back
in the returned payload: workers read and write no files, so they can be anywhere.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from aibubble.config import build
from aibubble.episodes import threshold_grid
from aibubble.experiments.files import jsonable
from aibubble.experiments.provenance import now_utc
from aibubble.experiments.sweeps.design import run_config_data

MAX_WARNINGS = 10  # distinct warnings kept per run in the ledger


def run_task(task: dict[str, Any]) -> dict[str, Any]:
    """Run one design point with one seed (in a worker process); never raises for model errors.

    Returns {"run_id", "seed", "status": "ok", "summary", "series", "thresholds", "meta"} (the
    thresholds: glut and bubble read again over the detector's robustness grid) or, if the model
    raised, {"run_id", "seed", "status": "failed", "traceback", "meta"}.
    """
    t0 = time.perf_counter()
    run_id, seed = task["run_id"], task["seed"]
    out: dict[str, Any] = {"run_id": run_id, "seed": seed}
    # Warnings (numpy overflow in extreme corners of a design, ...) go to the ledger with the
    # run, not to the terminal where thousands of them would bury the progress bar.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        try:
            from aibubble.market import AIMarketModel

            # run.seed too: the resolved config then repeats this exact run
            data = run_config_data(task["base"], {**task["overrides"], "run.seed": seed})
            model = AIMarketModel(config=build(data, f"run {run_id}"), rng=seed)
            model.run_model()
            frame = model.model_frame()
            out["summary"] = jsonable(model.summary())
            out["series"] = sample_series(frame, task["series_columns"], task["series_every"])
            out["thresholds"] = threshold_grid(frame, model.config.bubble)
            out["status"] = "ok"
        except Exception:
            out["status"] = "failed"
            out["traceback"] = traceback.format_exc()
    out["meta"] = {
        "duration_s": round(time.perf_counter() - t0, 4),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "finished_utc": now_utc(),
    }
    if caught:
        seen = {f"{w.category.__name__}: {w.message} ({Path(w.filename).name}:{w.lineno})" for w in caught}
        out["meta"]["warnings"] = sorted(seen)[:MAX_WARNINGS]
    return out


def seconds_per_run(base: dict[str, Any], months: int = 6) -> float:
    """How long one run of the resolved config `base` takes on this machine, from a real run of a
    few months: a month costs about the same all through a run, so a short probe extrapolates
    (to warn before a sweep that would take days, not to schedule it)."""
    from aibubble.market import AIMarketModel

    t0 = time.perf_counter()
    model = AIMarketModel(config=build(run_config_data(base, {}), "the base config"), rng=0)
    built = time.perf_counter() - t0
    steps = model.config.run.steps
    timed = min(months, steps)
    t1 = time.perf_counter()
    for _ in range(timed):
        model.step()
    return built + (time.perf_counter() - t1) / timed * steps


def sample_series(frame: pd.DataFrame, columns: list[str], every: int) -> dict[str, list[Any]]:
    """Every `every`-th month of `columns` (and always the last month) as plain lists."""
    if not columns:
        return {}
    steps = frame.index.to_numpy()
    keep = (steps % every == 0) | (steps == steps[-1])
    out: dict[str, list[Any]] = {"step": [int(s) for s in steps[keep]]}
    for c in columns:
        out[c] = jsonable(frame[c].to_numpy(dtype=float)[keep])
    return out
