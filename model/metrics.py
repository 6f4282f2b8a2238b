"""Bubble indicators and the run summary.

The thesis defines a bubble by two ingredients at once: overcapacity (utilization below a
threshold) and weak demand for compute (demand growing slower than capacity over a window),
persisting for some months. A burst is a collapse of capex from its peak, measured on the
trailing 12-month capex so that lumpy deliveries do not count as a collapse.
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from model.config import BubbleConfig, Config


class BubbleTracker:
    def __init__(self, cfg: BubbleConfig) -> None:
        self.cfg = cfg
        self.capacity: deque[float] = deque(maxlen=cfg.growth_window_months + 1)
        self.demand: deque[float] = deque(maxlen=cfg.growth_window_months + 1)
        self.capex: deque[float] = deque(maxlen=12)
        self.capex_peak = 0.0
        self.run_length = 0

    def update(self, installed: float, demand: float, utilization: float, capex: float) -> dict[str, Any]:
        self.capacity.append(installed)
        self.demand.append(demand)
        self.capex.append(capex)
        cap_growth = _log_ratio(self.capacity[-1], self.capacity[0])
        dem_growth = _log_ratio(self.demand[-1], self.demand[0])
        over = utilization < self.cfg.utilization_threshold
        weak = dem_growth < cap_growth
        self.run_length = self.run_length + 1 if over and weak else 0
        trailing = sum(self.capex)
        self.capex_peak = max(self.capex_peak, trailing)
        drawdown = 1 - trailing / self.capex_peak if self.capex_peak > 0 and len(self.capex) == 12 else 0.0
        return {
            "overcapacity": bool(over),
            "weak_demand": bool(weak),
            "bubble_state": bool(self.run_length >= self.cfg.persistence_months),
            "capex_trailing_12m_usd": trailing,
            "capex_drawdown": drawdown,
        }


def _log_ratio(a: float, b: float) -> float:
    return math.log(a / b) if a > 0 and b > 0 else 0.0


def jevons_ratio(demand: np.ndarray, efficiency: np.ndarray, start: int) -> float | None:
    """Δlog compute demand / Δlog efficiency from `start` to the end; None if efficiency is flat."""
    d_eff = _log_ratio(efficiency[-1], efficiency[start])
    if abs(d_eff) < 1e-9:
        return None
    return _log_ratio(demand[-1], demand[start]) / d_eff


def run_summary(df: pd.DataFrame, events: pd.DataFrame, cfg: Config, seed: Any) -> dict[str, Any]:
    """What a run found, from its model-level frame (one row per month) and event log, as
    plain JSON-ready numbers (see docs/design.md#what-a-run-reports)."""
    state = df["bubble_state"].to_numpy(bool)
    util = df["utilization"].to_numpy(float)
    first = int(np.argmax(state)) if state.any() else None
    reabsorb = None
    if first is not None:
        onset = first - cfg.bubble.persistence_months + 1
        later = np.flatnonzero(util[first:] >= cfg.hyperscalers.target_utilization)
        reabsorb = int(first + later[0] - onset) if later.size else None
    jump = cfg.discovery.jump_month
    start = max(jump - 1, 0) if cfg.discovery.jump_size > 1 and jump < len(df) else 0
    ratio = jevons_ratio(
        df["compute_demand_h100e"].to_numpy(float), df["mean_adopted_efficiency"].to_numpy(float), start
    )
    drawdown = float(df["capex_drawdown"].max())
    return {
        "scenario": cfg.name,
        "seed": seed,
        "steps": int(df.index[-1]),
        "bubble": bool(state.any()),
        "months_in_bubble": int(state.sum()),
        "first_bubble_month": first,
        "peak_overcapacity": float(1 - util.min()),
        "capex_peak_usd_per_month": float(df["capex_trailing_12m_usd"].max() / 12),
        "capex_drawdown": drawdown,
        "burst": bool(drawdown >= cfg.bubble.capex_drawdown_threshold),
        "write_offs_usd": float(df["write_downs_usd"].sum()),
        "reabsorption_months": reabsorb,
        "jevons_ratio": ratio,
        "bankruptcies": int(df["bankruptcies"].iloc[-1]),
        "labs_alive": int(df["labs_alive"].iloc[-1]),
        "final_utilization": float(util[-1]),
        "final_installed_capacity_h100e": float(df["installed_capacity_h100e"].iloc[-1]),
        "events": {str(k): int(v) for k, v in events["kind"].value_counts().items()},
    }
