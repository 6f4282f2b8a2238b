"""Calibration targets: the record as data, and one moment function per target.

A target file (`config/targets/*.yaml`) lists figures with their value or range, date, unit,
source and measurement uncertainty. A run's frames (one per scenario it needs: the baseline, and
the DeepSeek twin on the same seed for the event-study moment) yield one number per target
through the function registered under the target's `moment`. The distance of a run to the
record is the root mean square of the targets' standardised misses (zero inside a range), so a
target counts by its uncertainty, not by its unit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from aibubble.config import CONFIG_DIR, ConfigError, format_error, read_yaml

Frames = Mapping[str, pd.DataFrame]  # scenario role ("baseline", "deepseek") -> model frame
DEEPSEEK_SCENARIO = "deepseek-2025"


# ------------------------------------------------------------------------------------ moments
def _year_sum(frame: pd.DataFrame, column: str, year: int) -> float:
    """Sum of a monthly flow over a calendar year (month 0 = January 2024)."""
    i = 12 * (year - 2024)
    return float(frame[column].iloc[i : i + 12].sum())


def _year_mean(frame: pd.DataFrame, column: str, year: int) -> float:
    i = 12 * (year - 2024)
    return float(frame[column].iloc[i : i + 12].mean())


def _at(frame: pd.DataFrame, column: str, month: int) -> float:
    return float(frame[column].iloc[month])


def _ratio(frame: pd.DataFrame, column: str, later: int, earlier: int) -> float:
    base = _at(frame, column, earlier)
    return _at(frame, column, later) / base if base > 0 else math.nan


def _deepseek_capex_response(frames: Frames) -> float:
    """2025 capex with the January-2025 open shock over 2025 capex without it, on one seed."""
    without = _year_sum(frames["baseline"], "capex_usd", 2025)
    return _year_sum(frames["deepseek"], "capex_usd", 2025) / without if without > 0 else math.nan


# name -> (months a run needs, the scenario roles it needs, the function)
MOMENTS: dict[str, tuple[int, tuple[str, ...], Callable[[Frames], float]]] = {
    "capex_2024": (12, ("baseline",), lambda f: _year_sum(f["baseline"], "capex_usd", 2024)),
    "capex_2025": (24, ("baseline",), lambda f: _year_sum(f["baseline"], "capex_usd", 2025)),
    "capex_2026": (36, ("baseline",), lambda f: _year_sum(f["baseline"], "capex_usd", 2026)),
    "installed_end_2025": (24, ("baseline",), lambda f: _at(f["baseline"], "installed_capacity_h100e", 23)),
    "installed_growth_2024_2025": (
        25,
        ("baseline",),
        lambda f: _ratio(f["baseline"], "installed_capacity_h100e", 24, 0) ** 0.5,
    ),
    "rent_oct_2024": (10, ("baseline",), lambda f: _at(f["baseline"], "spot_price_usd_per_gpu_hour", 9)),
    "rent_oct_2025": (22, ("baseline",), lambda f: _at(f["baseline"], "spot_price_usd_per_gpu_hour", 21)),
    "rent_mar_2026": (27, ("baseline",), lambda f: _at(f["baseline"], "spot_price_usd_per_gpu_hour", 26)),
    "lead_time_2024": (12, ("baseline",), lambda f: _year_mean(f["baseline"], "gpu_lead_time_months", 2024)),
    "lead_time_2025": (24, ("baseline",), lambda f: _year_mean(f["baseline"], "gpu_lead_time_months", 2025)),
    "gpu_price_2025_vs_jan_2024": (
        24,
        ("baseline",),
        lambda f: (
            _year_mean(f["baseline"], "gpu_price_usd_per_h100e", 2025)
            / _at(f["baseline"], "gpu_price_usd_per_h100e", 0)
        ),
    ),
    "ai_spending_2025": (24, ("baseline",), lambda f: _year_sum(f["baseline"], "ai_spending_usd", 2025)),
    "user_growth_dec2024_aug2025": (
        20,
        ("baseline",),
        lambda f: _ratio(f["baseline"], "adoption_share", 19, 11),
    ),
    "user_growth_dec2024_feb2026": (
        26,
        ("baseline",),
        lambda f: _ratio(f["baseline"], "adoption_share", 25, 11),
    ),
    "token_growth_may2024_oct2025": (
        22,
        ("baseline",),
        lambda f: _ratio(f["baseline"], "tokens_served", 21, 4),
    ),
    "token_growth_may2024_may2026": (
        29,
        ("baseline",),
        lambda f: _ratio(f["baseline"], "tokens_served", 28, 4),
    ),
    "frontier_price_decline_2024_2025": (
        24,
        ("baseline",),
        lambda f: _ratio(f["baseline"], "frontier_token_price_usd_per_mtok", 0, 23),
    ),
    "deepseek_capex_response": (24, ("baseline", "deepseek"), _deepseek_capex_response),
}


# ------------------------------------------------------------------------------------ targets
class Target(BaseModel):
    """One figure of the record. Exactly one of `value` and `range` is given."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str = Field(min_length=1)
    moment: str
    value: float | None = None
    range: tuple[float, float] | None = None
    unit: str = Field(min_length=1)
    date: str = Field(min_length=1)
    source: str = Field(min_length=1)
    uncertainty: float = Field(gt=0)
    scale: Literal["log", "linear"] = "log"
    out_of_sample: bool = False

    @field_validator("moment")
    @classmethod
    def _known_moment(cls, name: str) -> str:
        if name not in MOMENTS:
            raise ValueError(f"unknown moment '{name}'; known: {', '.join(sorted(MOMENTS))}")
        return name

    @model_validator(mode="after")
    def _value_or_range(self) -> Target:
        if (self.value is None) == (self.range is None):
            raise ValueError("give exactly one of 'value' and 'range'")
        lo, hi = self.bounds
        if lo > hi:
            raise ValueError(f"range [{lo}, {hi}] is reversed")
        if self.scale == "log" and lo <= 0:
            raise ValueError("a target on scale: log needs a positive value or range")
        return self

    @property
    def bounds(self) -> tuple[float, float]:
        if self.range is not None:
            return self.range
        assert self.value is not None
        return (self.value, self.value)

    @property
    def months(self) -> int:
        return MOMENTS[self.moment][0]

    @property
    def roles(self) -> tuple[str, ...]:
        return MOMENTS[self.moment][1]

    def measure(self, frames: Frames) -> float:
        return float(MOMENTS[self.moment][2](frames))

    def miss(self, x: float) -> float:
        """The standardised distance of a moment from the figure (0 inside a range); a run that
        yields no number (NaN, or a non-positive value on a log scale) is infinitely far."""
        lo, hi = self.bounds
        if not math.isfinite(x) or (self.scale == "log" and x <= 0):
            return math.inf
        if self.scale == "log":
            gap = max(math.log(lo / x), math.log(x / hi), 0.0)
            return gap / math.log1p(self.uncertainty)
        return max(lo - x, x - hi, 0.0) / self.uncertainty

    def describe(self) -> str:
        lo, hi = self.bounds
        figure = f"{lo:.4g}" if lo == hi else f"{lo:.4g}-{hi:.4g}"
        return f"{figure} {self.unit} ({self.date})"


class TargetSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    description: str = ""
    targets: list[Target] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> TargetSet:
        names = [t.name for t in self.targets]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"target names must be unique: {', '.join(dup)}")
        if not self.fitted:
            raise ValueError("every target is out of sample: nothing to fit")
        return self

    @property
    def fitted(self) -> list[Target]:
        return [t for t in self.targets if not t.out_of_sample]

    @property
    def held_out(self) -> list[Target]:
        return [t for t in self.targets if t.out_of_sample]

    def months(self, targets: list[Target]) -> int:
        """How long a run must be to yield these targets' moments."""
        return max(t.months for t in targets)

    def roles(self, targets: list[Target]) -> tuple[str, ...]:
        needed = {r for t in targets for r in t.roles}
        return tuple(r for r in ("baseline", "deepseek") if r in needed)

    def moments(self, frames: Frames, targets: list[Target]) -> dict[str, float]:
        return {t.name: t.measure(frames) for t in targets}

    def distance(self, moments: Mapping[str, float]) -> float:
        """Root mean square of the fitted targets' standardised misses."""
        misses = np.array([t.miss(float(moments[t.name])) for t in self.fitted])
        return float(np.sqrt(np.mean(misses**2)))


def targets_path(name: str | Path) -> Path:
    """A target file by path, or by name among the shipped ones (config/targets/NAME.yaml)."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ConfigError(f"{path}: no such target file")
        return path
    shipped = CONFIG_DIR / "targets" / f"{name}.yaml"
    if not shipped.is_file():
        known = sorted(p.stem for p in (CONFIG_DIR / "targets").glob("*.yaml"))
        raise ConfigError(f"unknown target set '{name}'; shipped: {', '.join(known)}")
    return shipped


def load_targets(name: str | Path) -> TargetSet:
    path = targets_path(name)
    data = read_yaml(path)
    try:
        return TargetSet.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_error(exc, str(path))) from None
