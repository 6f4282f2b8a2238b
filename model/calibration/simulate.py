"""One simulation for calibration: the base config at a parameter sample, cut to the months the
targets need, plus the DeepSeek twin on the same seed when an event-study moment asks for it.

`Simulator` is what a worker calls. It carries everything resolved (the base config as plain
data, the twin's shock, the targets), so a worker reads no files and a run builds no scenario.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from aibubble.calibration.spec import Prepared
from aibubble.calibration.targets import Target, TargetSet
from aibubble.config import build
from aibubble.experiments.sweeps.design import run_config_data


@dataclass
class Simulator:
    prepared: Prepared
    targets: list[Target]  # whose moments to return
    fixed_sample: dict[str, float]  # free parameters held at the base (not kept by screening)

    @property
    def target_set(self) -> TargetSet:
        return self.prepared.targets

    def moments(self, sample: dict[str, float], seed: int) -> dict[str, float]:
        """Run at a sample (sample-space values by parameter name) with one seed."""
        from aibubble.market import AIMarketModel

        values = self.prepared.values({**self.fixed_sample, **sample})
        months = self.target_set.months(self.targets)
        frames = {}
        for role in self.target_set.roles(self.targets):
            data = run_config_data(self.prepared.base, {**values, "run.steps": months, "run.seed": seed})
            if role == "deepseek":
                data["discovery"] = dict(self.prepared.twin_discovery)
            config = build(data, f"calibration run at {values}")
            model = AIMarketModel(config=config, rng=seed)
            try:
                model.run_model()
            except Exception as exc:
                raise RuntimeError(f"the model failed at {values} with seed {seed} ({role})") from exc
            frames[role] = model.model_frame()
        return self.target_set.moments(frames, self.targets)

    def __call__(self, parameter: dict[str, Any]) -> dict[str, float]:
        """pyabc's model: the run's seed is drawn from numpy's global generator, which the sampler
        seeds per particle, so a particle's run depends only on the master seed and its index."""
        seed = int(np.random.randint(0, 2**31 - 1))
        return self.moments({k: float(v) for k, v in parameter.items()}, seed)

    def distance(self, x: dict[str, float], x0: dict[str, float] | None = None) -> float:
        """pyabc's distance: the observed data are the targets themselves, so `x0` is unused."""
        return self.target_set.distance(x)
