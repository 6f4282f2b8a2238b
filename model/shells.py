"""Data-centre shells: the buildings, power and cooling a GPU is installed in.

They are the long-lived part of an AI data centre, counted in kW of critical (IT) load. A
shell takes months to build and is paid in equal instalments while it is built; once built
it is depreciated straight-line over decades, while the GPUs in it last six years. A glut
leaves shells empty, not gone: they are what survives it, as the fibre of the telecom glut
did, and a later GPU moves into an empty shell without a new one being built.

`Shells` is one builder's stock of them: a small ledger of kW and USD that the builder's
rules fill (`agents/hyperscaler.py`); it moves no money itself.
"""

from __future__ import annotations

import operator
from collections import deque

import numpy as np


class Shells:
    """kW built and under construction, their cost and carrying amount.

    `building[k]` holds the kW that complete after k + 1 more monthly instalments. A shell
    started now pays `build_months` instalments of cost / `build_months`, this month's the
    first, and is in service from the month after its last. Plain floats in a deque: a builder
    touches these a few times a month, where numpy's per-call cost would exceed the arithmetic.
    """

    def __init__(self, cost_usd_per_kw: float, build_months: int, life_months: int) -> None:
        self.cost_usd_per_kw = cost_usd_per_kw
        self.build_months = build_months
        self.life_months = life_months
        self.kw = 0.0  # built
        self.gross = 0.0  # USD cost of the built shells (the straight-line basis)
        self.book = 0.0  # USD carrying amount of the built shells
        self.in_progress = 0.0  # USD paid on shells still being built
        self.building: deque[float] = deque([0.0] * build_months, maxlen=build_months)
        self.building_kw = 0.0  # kW being built (the sum of `building`, kept as it changes)

    @property
    def assets(self) -> float:
        """USD on the balance sheet: built shells at book value plus construction in progress."""
        return self.book + self.in_progress

    def commitments(self) -> float:
        """USD of instalments still to pay on the shells being built."""
        left = sum(map(operator.mul, self.building, range(1, self.build_months + 1)))
        return left * self.cost_usd_per_kw / self.build_months

    def open(self, built: np.ndarray, age_months: np.ndarray, building: np.ndarray) -> None:
        """The shells a builder holds at month 0, bought before the run (no money moves):
        `built` kW by age, depreciated since; `building` kW by months to completion, each
        with the instalments due before month 0 paid."""
        c = self.cost_usd_per_kw
        self.kw = float(built.sum())
        self.gross = c * self.kw
        self.book = c * float(built @ np.clip(1 - age_months / self.life_months, 0.0, 1.0))
        self.building = deque((float(kw) for kw in building), maxlen=self.build_months)
        self.building_kw = float(building.sum())
        paid = self.build_months - 1 - np.arange(self.build_months)
        self.in_progress = c * float(building @ paid) / self.build_months

    def start(self, kw: float) -> None:
        """Begin building `kw` (its first instalment is this month's)."""
        self.building[-1] += kw
        self.building_kw += kw

    def month(self) -> tuple[float, float]:
        """Pay this month's instalments and put the shells whose last one it was in service;
        returns (USD paid, USD of depreciation on the shells built before this month)."""
        c = self.cost_usd_per_kw
        dep = min(self.gross / self.life_months, self.book)
        self.book -= dep
        paid = c * self.building_kw / self.build_months
        self.in_progress += paid
        done = self.building.popleft()
        self.building.append(0.0)
        self.building_kw = sum(self.building)  # summed afresh: no drift from subtraction
        self._complete(done, c * done)
        self.in_progress = max(self.in_progress - c * done, 0.0)
        return paid, dep

    def build_at_once(self, kw: float) -> float:
        """Space for GPUs that arrive before their shell: bought built (modular halls, or
        space taken over from others) at the same cost; returns USD paid."""
        cost = self.cost_usd_per_kw * kw
        self._complete(kw, cost)
        return cost

    def _complete(self, kw: float, cost: float) -> None:
        self.kw += kw
        self.gross += cost
        self.book += cost
