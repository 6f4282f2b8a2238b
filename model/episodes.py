"""Glut episodes, found in a run's monthly series.

A glut month has both ingredients of the thesis: overcapacity (utilization below
`bubble.utilization_threshold`) and weak demand for compute, judged by level: the compute
demanded at the market price is below the capacity in service (not a race of growth rates,
which switches off as soon as demand bounces while most of the fleet is still idle).

An episode is a run of glut months at least `bubble.persistence_months` long, where recoveries
of at most `bubble.merge_gap_months` do not end it; its duration counts every month from onset
to end. An episode is a **bubble** when it becomes a financial event: the builders impair, or
write down at a default, at least `bubble.impairment_share_threshold` of the fleet's book value
at onset while it lasts.
A **burst** is a capex collapse (trailing 12-month capex down `bubble.capex_drawdown_threshold`
from its peak) caused by an episode: reached between its onset and 12 months after its end (the
trailing window needs that long to show a stop in spending). Capex that falls outside a glut,
in scarcity, is not a burst.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from aibubble.config import BubbleConfig

TRAILING_MONTHS = 12  # window of the trailing capex whose drawdown marks a burst


@dataclass(frozen=True)
class Episode:
    onset: int  # first glut month (step)
    end: int  # last glut month (step)
    duration_months: int  # end - onset + 1
    ongoing: bool  # still in the glut when the run ended (duration is censored)
    min_utilization: float  # fraction
    max_idle_h100e: float  # capacity in service less compute used, at its largest
    max_stranded_book_usd: float  # book value x idle share, at its largest
    book_at_onset_usd: float
    failure_usd: float  # write-offs by cause while it lasted
    retirement_usd: float
    impairment_usd: float
    default_usd: float  # fleet written down at builders' defaults
    capex_drawdown: float  # largest trailing-capex drawdown from onset to 12 months after its end
    bubble: bool  # impaired or lost at defaults at least the threshold share of the book at onset
    burst: bool  # capex collapsed in its wake
    bubble_month: int | None  # the month its impairment reached the threshold
    burst_month: int | None  # the month the trailing capex drawdown reached the threshold
    # what closed the idle capacity from its lowest utilization to the month after the end (or
    # the last month, when ongoing): shares of the idle H100e closed by users' inference, by
    # training and by the fleet shrinking; None when no idle capacity was closed
    refill_users_share: float | None
    refill_training_share: float | None
    refill_fleet_share: float | None

    @property
    def refilled_by(self) -> str | None:
        """The channel that closed most of the idle capacity: users, training or fleet."""
        users, training, fleet = self.refill_users_share, self.refill_training_share, self.refill_fleet_share
        if users is None or training is None or fleet is None:  # None together: nothing closed
            return None
        shares = {"users": users, "training": training, "fleet": fleet}
        return max(shares, key=shares.__getitem__)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"refilled_by": self.refilled_by}


def refill_shares(df: pd.DataFrame, trough: int, after: int) -> tuple[float, float, float] | None:
    """Shares of the idle capacity closed between rows `trough` and `after` that came from more
    inference (users), more training and fewer GPUs in service (fleet).

    Idle = installed - inference - training, so the idle H100e closed is exactly
    d(inference) + d(training) - d(installed): the three shares add up to 1.
    """
    if "inference_used_h100e" not in df:  # a frame saved before the split was recorded
        return None
    rows = df.iloc[[trough, after]]
    users, training, installed = (
        float(np.diff(rows[c].to_numpy(float))[0])
        for c in ("inference_used_h100e", "training_used_h100e", "installed_capacity_h100e")
    )
    closed = users + training - installed
    if closed <= 0:
        return None
    return users / closed, training / closed, -installed / closed


def glut_runs(glut: np.ndarray, min_months: int, merge_gap: int) -> list[tuple[int, int]]:
    """(first, last) index of each run of True at least `min_months` long, after joining
    runs separated by at most `merge_gap` False months."""
    idx = np.flatnonzero(np.asarray(glut, dtype=bool))
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > merge_gap + 1)
    starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks], [idx[-1]]])
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True) if b - a + 1 >= min_months]


def find_episodes(df: pd.DataFrame, cfg: BubbleConfig) -> list[Episode]:
    """Every glut episode of a run's model frame (one row per month, indexed by step), at the
    thresholds of `cfg`."""
    util = df["utilization"].to_numpy(float)
    steps = df.index.to_numpy()
    # the glut condition at this config's threshold (the run's own `glut` series used the run's
    # threshold), so the same frame can be read at other thresholds (robustness tables)
    glut = (util < cfg.utilization_threshold) & df["weak_demand"].to_numpy(bool)
    episodes = []
    for a, b in glut_runs(glut, cfg.persistence_months, cfg.merge_gap_months):
        part = df.iloc[a : b + 1]
        idle = part["installed_capacity_h100e"] - part["compute_used_h100e"]
        book0 = float(df["book_value_usd"].iloc[max(a - 1, 0)])
        impaired = part["impairment_usd"].to_numpy(float).cumsum()
        defaulted = part["write_offs_default_usd"].to_numpy(float).cumsum()
        wake = df["capex_drawdown"].to_numpy(float)[a : b + 1 + TRAILING_MONTHS]
        losses = impaired + defaulted  # the financial write-downs of the glut
        bubble_at = _first(losses >= cfg.impairment_share_threshold * book0) if book0 > 0 else None
        burst_at = _first(wake >= cfg.capex_drawdown_threshold)
        trough = a + int(np.argmin(util[a : b + 1]))
        refill = refill_shares(df, trough, min(b + 1, len(df) - 1))
        episodes.append(
            Episode(
                onset=int(steps[a]),
                end=int(steps[b]),
                duration_months=b - a + 1,
                ongoing=b == len(df) - 1,
                min_utilization=float(util[a : b + 1].min()),
                max_idle_h100e=float(idle.max()),
                max_stranded_book_usd=float(part["stranded_book_value_usd"].max()),
                book_at_onset_usd=book0,
                failure_usd=float(part["write_offs_failure_usd"].sum()),
                retirement_usd=float(part["write_offs_retirement_usd"].sum()),
                impairment_usd=float(impaired[-1]),
                default_usd=float(defaulted[-1]),
                capex_drawdown=float(wake.max()),
                bubble=bubble_at is not None,
                burst=burst_at is not None,
                bubble_month=None if bubble_at is None else int(steps[a + bubble_at]),
                burst_month=None if burst_at is None else int(steps[a + burst_at]),
                refill_users_share=None if refill is None else refill[0],
                refill_training_share=None if refill is None else refill[1],
                refill_fleet_share=None if refill is None else refill[2],
            )
        )
    return episodes


def _first(hit: np.ndarray) -> int | None:
    idx = np.flatnonzero(hit)
    return int(idx[0]) if idx.size else None


def episode_events(episodes: list[Episode], cfg: BubbleConfig) -> list[tuple]:
    """Event-log rows (see `model.events.COLUMNS`) telling each episode's story: its onset, the
    month it became a bubble, the month capex burst, and its end. The market is the agent.

    An onset is dated to its first glut month although it is recognised only once the glut has
    lasted `persistence_months`; the rows are in step order.
    """
    rows = []
    for e in episodes:
        span = f"{e.duration_months} months{' so far' if e.ongoing else ''}"
        rows.append(
            (
                e.onset,
                -1,
                "market",
                "glut_onset",
                f"utilization below {cfg.utilization_threshold:.0%} and demand below capacity",
                float(e.duration_months),
                f"{span}; lowest utilization {e.min_utilization:.0%}; "
                f"peak idle {e.max_idle_h100e / 1e6:.3g}M H100e",
            )
        )
        if e.bubble_month is not None:
            rows.append(
                (
                    e.bubble_month,
                    -1,
                    "market",
                    "bubble",
                    f"impairment and default write-downs reached {cfg.impairment_share_threshold:.0%} "
                    "of the book at onset",
                    e.impairment_usd + e.default_usd,
                    f"episode from month {e.onset}; book at onset ${e.book_at_onset_usd / 1e9:,.0f}bn",
                )
            )
        if e.burst_month is not None:
            rows.append(
                (
                    e.burst_month,
                    -1,
                    "market",
                    "burst",
                    f"trailing 12-month capex down {cfg.capex_drawdown_threshold:.0%} from its peak",
                    e.capex_drawdown,
                    f"episode from month {e.onset}",
                )
            )
        if not e.ongoing:
            rows.append(
                (
                    e.end,
                    -1,
                    "market",
                    "glut_end",
                    "utilization or demand recovered",
                    float(e.duration_months),
                    span,
                )
            )
    return sorted(rows, key=lambda row: row[0])


# The detector's thresholds read again over a small grid, so a threshold is not mistaken for a
# result: persistence x utilization at the shipped impairment share, and the impairment share at
# the shipped persistence and utilization.
ROBUST_PERSISTENCE = (3, 6, 9, 12)  # months
ROBUST_UTILIZATION = (0.5, 0.6, 0.7)  # fraction of capacity in service
ROBUST_IMPAIRMENT = (0.05, 0.1, 0.25)  # fraction of book value at onset
THRESHOLD_KEYS = ("persistence_months", "utilization_threshold", "impairment_share_threshold")


def threshold_grid(df: pd.DataFrame, cfg: BubbleConfig) -> list[dict[str, Any]]:
    """Whether the run has a glut and a bubble at each threshold of the robustness grid."""
    points = [
        {
            "persistence_months": m,
            "utilization_threshold": u,
            "impairment_share_threshold": cfg.impairment_share_threshold,
        }
        for m in ROBUST_PERSISTENCE
        for u in ROBUST_UTILIZATION
    ] + [
        {
            "persistence_months": cfg.persistence_months,
            "utilization_threshold": cfg.utilization_threshold,
            "impairment_share_threshold": t,
        }
        for t in ROBUST_IMPAIRMENT
    ]
    out = []
    for point in {tuple(p.items()): p for p in points}.values():  # the shipped point once
        found = find_episodes(df, cfg.model_copy(update=point))
        out.append({**point, "glut": bool(found), "bubble": any(e.bubble for e in found)})
    return out
