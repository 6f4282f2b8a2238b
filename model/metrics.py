"""Monthly glut indicators and the run summary.

Each month the tracker marks the two ingredients of the thesis, overcapacity (utilization
below a threshold) and weak demand for compute (demand at the market price below the
capacity in service), and the trailing 12-month capex with its drawdown from the peak, so
that lumpy deliveries do not count as a collapse. Episodes, bubbles and bursts are found in
the finished series (`model/episodes.py`).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aibubble.episodes import TRAILING_MONTHS, find_episodes

if TYPE_CHECKING:
    from aibubble.config import BubbleConfig, Config


class BubbleTracker:
    def __init__(self, cfg: BubbleConfig) -> None:
        self.cfg = cfg
        self.capex: deque[float] = deque(maxlen=TRAILING_MONTHS)
        self.capex_peak = 0.0

    def update(self, capacity: float, demand: float, utilization: float, capex: float) -> dict[str, Any]:
        """This month's indicators; `capacity` is the capacity in service (H100e)."""
        self.capex.append(capex)
        over = utilization < self.cfg.utilization_threshold
        # below by more than rounding: in a sold-out month demand equals capacity up to the last
        # bits, which differ between processors, and that is not weak demand
        weak = demand < capacity * (1 - 1e-9)
        trailing = sum(self.capex)
        self.capex_peak = max(self.capex_peak, trailing)
        full = len(self.capex) == TRAILING_MONTHS
        drawdown = 1 - trailing / self.capex_peak if self.capex_peak > 0 and full else 0.0
        return {
            "overcapacity": bool(over),
            "weak_demand": bool(weak),
            "glut": bool(over and weak),
            "capex_trailing_12m_usd": trailing,
            "capex_drawdown": drawdown,
        }


def run_summary(df: pd.DataFrame, events: pd.DataFrame, cfg: Config, seed: Any) -> dict[str, Any]:
    """What a run found, from its model-level frame (one row per month) and event log, as
    plain JSON-ready numbers (see docs/design.md#what-a-run-reports)."""
    util = df["utilization"].to_numpy(float)
    episodes = find_episodes(df, cfg.bubble)
    bubbles = [e for e in episodes if e.bubble]
    reabsorb = None
    if episodes:
        first = episodes[0]
        later = np.flatnonzero(util[first.onset :] >= cfg.hyperscalers.target_utilization)
        reabsorb = int(later[0]) if later.size else None
    causes = {
        k: float(df[k].sum())
        for k in ("write_offs_failure_usd", "write_offs_retirement_usd", "write_offs_default_usd")
    }
    return {
        "scenario": cfg.name,
        "seed": seed,
        "steps": int(df.index[-1]),
        "glut": bool(episodes),
        "glut_episodes": len(episodes),
        "glut_months": sum(e.duration_months for e in episodes),
        "first_glut_month": episodes[0].onset if episodes else None,
        "longest_glut_months": max((e.duration_months for e in episodes), default=0),
        "glut_min_utilization": min((e.min_utilization for e in episodes), default=None),
        "bubble": bool(bubbles),
        "months_in_bubble": sum(e.duration_months for e in bubbles),
        "first_bubble_month": bubbles[0].onset if bubbles else None,
        "peak_overcapacity": float(1 - util.min()),
        "capex_peak_usd_per_month": float(df["capex_trailing_12m_usd"].max() / 12),
        "capex_drawdown": float(df["capex_drawdown"].max()),
        "glut_capex_drawdown": max((e.capex_drawdown for e in episodes), default=0.0),
        "burst": any(e.burst for e in episodes),
        "write_offs_usd": float(df["write_downs_usd"].sum()),
        **causes,
        "impairment_usd": float(df["impairment_usd"].sum()),
        "default_losses_usd": float(df["default_losses_usd"].sum()),
        "neocloud_defaults": int(df["neocloud_defaults"].iloc[-1]),
        "glut_impairment_usd": sum(e.impairment_usd for e in episodes),
        "reabsorption_months": reabsorb,
        # what closed the first glut's idle capacity (episodes.refill_shares)
        "glut_refill_users_share": episodes[0].refill_users_share if episodes else None,
        "glut_refill_training_share": episodes[0].refill_training_share if episodes else None,
        "glut_refill_fleet_share": episodes[0].refill_fleet_share if episodes else None,
        "glut_refilled_by": episodes[0].refilled_by if episodes else None,
        "bankruptcies": int(df["bankruptcies"].iloc[-1]),
        "labs_alive": int(df["labs_alive"].iloc[-1]),
        "final_utilization": float(util[-1]),
        "final_installed_capacity_h100e": float(df["installed_capacity_h100e"].iloc[-1]),
        # the shells a glut leaves standing: the part of the build-out that survives it
        "peak_empty_shell_share": _peak_empty_share(df),
        "final_shells_gw": float(df["shells_gw"].iloc[-1]),
        "episodes": [e.as_dict() for e in episodes],
        "events": {str(k): int(v) for k, v in events["kind"].value_counts().items()},
    }


def _peak_empty_share(df: pd.DataFrame) -> float:
    """The largest share of the built shells' kW that no GPU in service needed in any month."""
    shells = df["shells_gw"].to_numpy(float)
    power = df["fleet_power_gw"].to_numpy(float)
    built = shells > 0
    return float(np.max(1 - power[built] / shells[built], initial=0.0))


def efficiency_elasticity(
    factual: pd.DataFrame, counterfactual: pd.DataFrame, gain: float, window_months: int = 24
) -> float | None:
    """Long-run log change of compute demand with vs without a discovery, per log of its gain.

    Averaged over the last `window_months` of a pair run on common random numbers, so that
    everything but the discovery cancels. Above 0 the discovery raised compute demand (the
    Jevons paradox); in the frictionless limit of constant-elasticity users it is eps - 1.
    None when the gain is 1 or demand is zero in either run.
    """
    if gain <= 1:
        return None
    with_d = factual["compute_demand_h100e"].to_numpy(float)[-window_months:]
    without = counterfactual["compute_demand_h100e"].to_numpy(float)[-window_months:]
    if (with_d <= 0).any() or (without <= 0).any():
        return None
    return float(np.mean(np.log(with_d / without)) / np.log(gain))
