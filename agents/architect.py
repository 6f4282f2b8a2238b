"""Model architects: the source of discrete efficiency discoveries.

Each architect works at a lab or independently (academia), with a productivity drawn at
start. Each month it may discover an architecture whose efficiency gain is heavy-tailed
(Pareto above `gain_min`: mostly 1.1-2x, rarely 10-100x). Independent architects always
publish; lab architects publish with probability `openness`, else the idea stays
proprietary to their lab. The model turns a discovery into adoptions (see model/efficiency.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

if TYPE_CHECKING:
    from aibubble.config import ArchitectConfig


class ModelArchitect(mesa.Agent):
    def __init__(self, model: mesa.Model, cfg: ArchitectConfig, lab: int | None, productivity: float) -> None:
        super().__init__(model)
        self.cfg = cfg
        self.lab = lab  # index of the employing lab, None if independent
        self.productivity = productivity  # multiple of the average discovery rate
        # chance of a discovery a month: its share of the yearly rate times its productivity
        self.monthly_rate = cfg.discoveries_per_year / 12.0 / max(cfg.count, 1) * productivity
        self.discoveries = 0

    @property
    def lab_index(self) -> int:
        """Employing lab's index, -1 if independent (a number for the data collector)."""
        return -1 if self.lab is None else self.lab

    def draw_gain(self) -> float:
        cfg = self.cfg
        u = 1.0 - self.model.streams["architects"].random()  # in (0, 1]
        return float(min(cfg.gain_max, cfg.gain_min * u ** (-1.0 / cfg.gain_tail_alpha)))

    def step(self) -> None:
        """Maybe discover something this month."""
        rng = self.model.streams["architects"]
        if rng.random() >= self.monthly_rate:
            return
        gain = self.draw_gain()
        published = rng.random() < self.cfg.openness  # drawn always, so the stream stays aligned
        self.discover(gain, self.lab is None or published, cause="research")

    def lab_closed(self, lab: int, alive: list[int]) -> None:
        """Its lab went bankrupt: move to a living lab at random, or become independent."""
        if self.lab == lab:
            self.lab = int(self.model.streams["exits"].choice(alive)) if alive else None

    def discover(self, gain: float, is_open: bool, cause: str) -> None:
        self.discoveries += 1
        self.model.diffusion.discover(self.lab, self.unique_id, gain, is_open, cause)
