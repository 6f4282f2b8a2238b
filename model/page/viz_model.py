"""The model behind the page: AIMarketModel as Reset builds it from the sidebar's controls.

The scenario comes from the environment variable AIBUBBLE_VIZ_SCENARIO (set by `aibubble viz`),
default `baseline`; the controls start at its values.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from aibubble.config import HEADLINE, load_config, scenario_names
from aibubble.market import AIMarketModel

SCENARIO_ENV = "AIBUBBLE_VIZ_SCENARIO"  # set by model/cli/serve.py
DEFAULT_SCENARIO = "baseline"


class VizMarket(AIMarketModel):
    """AIMarketModel as the page builds it on Reset.

    Two differences, both forced by SolaraViz:

    - The scenario is `scenario_name`, not `scenario`: Mesa's Reset passes a
      `mesa.experimental.scenarios.Scenario` object as `scenario` to any model that accepts one.
    - Sliders always send a value, so `slider_start` (the values the sliders started at) tells
      an untouched slider from a moved one: untouched ones keep the scenario's own value.

    A lock keeps "Discover now" and the views' reads out of a month that Play is stepping in
    another thread. After "Discover now", `twin` is the same run without it, stepping alongside.
    """

    def __init__(
        self,
        scenario_name: str = DEFAULT_SCENARIO,
        rng: Any = None,
        jump_size: float | None = None,
        jump_month: int | None = None,
        open_publication: bool | None = None,
        demand_elasticity: float | None = None,
        forecast_optimism: float | None = None,
        n_users: int | None = None,
        slider_start: dict[str, Any] | None = None,
    ) -> None:
        self.lock = threading.RLock()
        values: dict[str, Any] = {
            "jump_size": jump_size,
            "jump_month": jump_month,
            "open_publication": open_publication,
            "demand_elasticity": demand_elasticity,
            "forecast_optimism": forecast_optimism,
            "n_users": n_users,
        }
        start = slider_start or {}
        moved = {k: v for k, v in values.items() if v is not None and not _same(v, start.get(k))}
        seed, self.seed_note = parse_seed(rng)
        super().__init__(scenario=scenario_name, rng=seed, **moved)
        self.scenario_name = scenario_name
        self.moved = sorted(moved)  # headline parameters set by a slider, not by the scenario
        self.twin: AIMarketModel | None = None  # the same run without "Discover now" (see discover_now)
        self._frame_cache: tuple[int, pd.DataFrame] | None = None
        self._efficiency_rows = [self._lab_efficiencies()]

    def step(self) -> None:
        with self.lock:
            super().step()
            self._efficiency_rows.append(self._lab_efficiencies())
            if self.twin is not None:
                self.twin.step()

    def trigger_discovery(
        self, gain: float, is_open: bool, lab: int | None = 0, cause: str = "manual"
    ) -> None:
        with self.lock:
            super().trigger_discovery(gain, is_open, lab, cause)

    def discover_now(self, gain: float, is_open: bool, lab: int | None) -> None:
        """A discovery by a person, this month, and from now on the run without it beside it.

        The twin is the same config and seed without any of the page's discoveries: built at
        the first one, it replays the months so far (it is this run up to now), then steps with
        this model. Common random numbers make the difference between the two the discoveries'
        effect, free of noise between runs (as `aibubble run --counterfactual` does).
        """
        with self.lock:
            if self.twin is None:
                self.twin = self.replay()
            self.trigger_discovery(gain, is_open, lab, cause="Discover now")

    def replay(self) -> AIMarketModel:
        """This run rebuilt from its resolved config and seed and stepped to this month."""
        twin = AIMarketModel(config=self.config, rng=self.seed)
        for _ in range(self.steps):
            twin.step()
        return twin

    # Frames are rebuilt once a month, not once per card.
    def frame(self) -> pd.DataFrame:
        if self._frame_cache is None or self._frame_cache[0] != self.steps:
            self._frame_cache = (self.steps, self.model_frame())
        return self._frame_cache[1]

    def lab_efficiency(self) -> np.ndarray:
        """Efficiency multiple per month (rows) and lab index (columns).

        Kept month by month: pivoting the data collector's lab records costs ~0.1 s a month.
        """
        return np.array(self._efficiency_rows)

    def _lab_efficiencies(self) -> list[float]:
        return [lab.efficiency for lab in self.labs]


def _same(a: Any, b: Any) -> bool:
    if b is None:
        return False
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) == bool(b)
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


def locked(model: AIMarketModel, read: Callable[[Any], Any]) -> Any:
    """Read the model between months: Play steps in another thread than a click's redraw."""
    lock = getattr(model, "lock", None)
    if lock is None:
        return read(model)
    with lock:
        return read(model)


def parse_seed(text: Any) -> tuple[int | None, str]:
    """The seed box's text as an integer; blank means the scenario's seed.

    Anything else also falls back to the scenario's seed, with a note the page shows.
    """
    if text is None or isinstance(text, int | np.integer):
        return (None if text is None else int(text)), ""
    raw = str(text).strip()
    if raw == "":
        return None, ""
    try:
        seed = int(raw)
    except ValueError:
        return None, f"seed '{raw}' is not a whole number: the scenario's seed is used"
    if seed < 0:
        return None, f"seed {seed} is negative: the scenario's seed is used"
    return seed, ""


def launch_scenario() -> str:
    return os.environ.get(SCENARIO_ENV, "").strip() or DEFAULT_SCENARIO


def model_params(scenario: str) -> dict[str, Any]:
    """SolaraViz controls, starting at the scenario's values. Raises ConfigError if unknown.

    Ranges cover what a person explores; they widen to hold a scenario's own value.
    """
    cfg = load_config(scenario)
    names = scenario_names()
    if scenario not in names:  # a YAML file given with --scenario
        names = [scenario, *names]

    def start(name: str) -> Any:
        section, key = HEADLINE[name].split(".")
        return getattr(getattr(cfg, section), key)

    slider_start = {name: start(name) for name in HEADLINE if name != "steps"}
    return {
        "scenario_name": {"type": "Select", "value": scenario, "values": names, "label": "Scenario"},
        "rng": {"type": "InputText", "value": str(cfg.run.seed), "label": "Seed (whole number)"},
        "jump_size": {
            "type": "SliderFloat",
            "value": float(slider_start["jump_size"]),
            "min": 1.0,
            "max": max(100.0, slider_start["jump_size"]),
            "step": 0.5,
            "label": "Jump size, x (1 = none)",
        },
        "jump_month": {
            "type": "SliderInt",
            "value": int(slider_start["jump_month"]),
            "min": min(1, int(slider_start["jump_month"])),  # a scripted discovery needs month >= 1
            "max": max(int(cfg.run.steps), slider_start["jump_month"]),
            "step": 1,
            "label": "Jump month",
        },
        "open_publication": {
            "type": "Checkbox",
            "value": bool(slider_start["open_publication"]),
            "label": "Jump published openly",
        },
        "demand_elasticity": {
            "type": "SliderFloat",
            "value": float(slider_start["demand_elasticity"]),
            "min": 0.0,
            "max": max(3.0, slider_start["demand_elasticity"]),
            "step": 0.05,
            "label": "Demand elasticity",
        },
        "forecast_optimism": {
            "type": "SliderFloat",
            "value": float(slider_start["forecast_optimism"]),
            "min": 0.0,
            "max": max(6.0, slider_start["forecast_optimism"]),
            "step": 0.1,
            "label": "Forecast optimism",
        },
        "n_users": {
            "type": "SliderInt",
            "value": int(slider_start["n_users"]),
            "min": min(1_000, slider_start["n_users"]),
            "max": max(200_000, slider_start["n_users"]),
            "step": 1_000,
            "label": "User segments",
        },
        "slider_start": slider_start,  # fixed: not a control
    }


def build_model(scenario: str | None = None) -> VizMarket:
    """The model the page starts with: the scenario's values, as if Reset were pressed."""
    scenario = scenario or launch_scenario()
    params = model_params(scenario)
    kwargs = {k: (v["value"] if isinstance(v, dict) and "type" in v else v) for k, v in params.items()}
    return VizMarket(**kwargs)
