"""Hyperscalers: own the GPU fleet, rent it out, and decide how much more to build.

The fleet is held as cohorts (month bought, H100e, operating cost per H100e-hour, purchase
cost, book value): newer cohorts are cheaper to run per H100e because hardware
price-performance improves, which orders the merit order of the spot market. Each month a
hyperscaler forecasts its demand by extrapolating recent growth over its lead time (scaled
by optimism, pulled toward competitors' plans by herding), orders GPUs toward the capacity
that forecast needs within its capex budget, or cancels undelivered orders when it has too
much; it depreciates cohorts straight-line over their book life, writes them down when the
rental value no longer covers book value, and retires them when rent no longer covers
operating cost or they reach their physical end of life.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

if TYPE_CHECKING:
    from model.config import HyperscalerConfig

HOURS_PER_MONTH = 730.0


class Hyperscaler(mesa.Agent):
    def __init__(self, model: mesa.Model, cfg: HyperscalerConfig, cash: float, capital_share: float) -> None:
        super().__init__(model)
        self.cfg = cfg
        self.cash = cash  # USD
        self.debt = 0.0  # USD
        self.capital_share = capital_share  # share of the core businesses' cash flow it receives
        self.born = np.zeros(0, dtype=np.int64)  # step each cohort was delivered
        self.h100e = np.zeros(0)  # H100e per cohort
        self.opex = np.zeros(0)  # USD per H100e-hour per cohort
        self.cost = np.zeros(0)  # USD paid per cohort (adjusted for failures)
        self.book = np.zeros(0)  # USD book value per cohort
        self.demand_history: list[float] = []  # H100e wanted from it, per month
        self.used = 0.0  # H100e-months used last month
        self.utilization = 0.0
        self.realised_price = 0.0  # USD per used H100e-hour, smoothed
        self.revenue = 0.0
        self.planned_growth = 1.0  # (target capacity / installed) from its last plan
        self.orders = self.cancellations = self.deliveries = 0.0  # H100e this month
        self.capex = self.write_downs = self.depreciation = self.opex_paid = 0.0  # USD this month
        self.profit = 0.0  # USD this month (revenue - opex - depreciation - write-downs - interest)

    # --- measures -------------------------------------------------------------------
    @property
    def installed(self) -> float:
        return float(self.h100e.sum())

    @property
    def book_value(self) -> float:
        return float(self.book.sum())

    def add_cohort(self, step: int, h100e: float, opex: float, cost: float, book: float) -> None:
        self.born = np.append(self.born, step)
        self.h100e = np.append(self.h100e, h100e)
        self.opex = np.append(self.opex, opex)
        self.cost = np.append(self.cost, cost)
        self.book = np.append(self.book, book)

    def _drop(self, keep: np.ndarray) -> None:
        self.born, self.h100e, self.opex = self.born[keep], self.h100e[keep], self.opex[keep]
        self.cost, self.book = self.cost[keep], self.book[keep]

    # --- the spot market ---------------------------------------------------------------
    def split_capacity(self, committed: float) -> tuple[np.ndarray, np.ndarray]:
        """Serve reserved contracts from the cheapest cohorts; return (reserved, free) per cohort."""
        order = np.argsort(self.opex, kind="stable")
        caps = self.h100e[order]
        before = np.cumsum(caps) - caps
        reserved_sorted = np.clip(committed - before, 0.0, caps)
        reserved = np.empty_like(caps)
        reserved[order] = reserved_sorted
        return reserved, self.h100e - reserved

    def ask(self) -> np.ndarray:
        """USD per H100e-hour asked per cohort: operating cost plus a markup."""
        return self.opex * (1.0 + self.cfg.ask_markup)

    # --- fleet accounting ---------------------------------------------------------------
    def operate(self, used_by_cohort: np.ndarray, revenue: float) -> None:
        """Book the month's use: utilization, operating cost, smoothed realised price."""
        self.used = float(used_by_cohort.sum())
        self.utilization = self.used / self.installed if self.installed > 0 else 0.0
        self.revenue = revenue
        self.opex_paid = float((used_by_cohort * self.opex).sum() * HOURS_PER_MONTH)
        if self.used > 0:
            price = revenue / (self.used * HOURS_PER_MONTH)
            self.realised_price = (
                price if self.realised_price == 0 else 0.7 * self.realised_price + 0.3 * price
            )

    def depreciate(self) -> float:
        """Straight-line depreciation over the book life; returns USD this month."""
        dep = np.minimum(self.book, self.cost / self.cfg.book_life_months)
        self.book = self.book - dep
        self.depreciation = float(dep.sum())
        return self.depreciation

    def fail(self) -> tuple[float, float]:
        """Remove failed GPUs (H100e) and write off their book value (USD)."""
        frac = 1.0 - (1.0 - self.cfg.failure_rate_per_year) ** (1 / 12)
        lost = self.h100e * frac
        written = self.book * frac
        self.h100e = self.h100e - lost
        self.cost = self.cost * (1 - frac)
        self.book = self.book - written
        return float(lost.sum()), float(written.sum())

    def retire(self, step: int, price: float) -> tuple[float, float]:
        """Retire cohorts past physical life or whose operating cost exceeds the rent."""
        old = (step - self.born) >= self.cfg.max_age_months
        stranded = self.opex > price
        out = old | stranded
        if not out.any():
            return 0.0, 0.0
        h100e, book = float(self.h100e[out].sum()), float(self.book[out].sum())
        self._drop(~out)
        return h100e, book

    def impair(self, step: int, price: float, utilization: float, monthly_rate: float) -> float:
        """Write cohorts down to the discounted rent they can still earn over their book life."""
        remaining = np.maximum(self.cfg.book_life_months - (step - self.born), 0)
        margin = np.maximum(price - self.opex, 0.0) * HOURS_PER_MONTH * utilization * self.h100e
        if monthly_rate > 0:
            annuity = (1 - (1 + monthly_rate) ** (-remaining.astype(float))) / monthly_rate
        else:
            annuity = remaining.astype(float)
        recoverable = margin * annuity
        loss = np.maximum(self.book - recoverable, 0.0)
        self.book = self.book - loss
        return float(loss.sum())

    # --- planning ------------------------------------------------------------------
    def forecast_growth(self) -> float:
        """Expected log growth of its demand per month: trend x optimism, capped."""
        cfg = self.cfg
        h = self.demand_history
        w = min(cfg.forecast_window_months, len(h) - 1)
        if w < 1 or h[-1 - w] <= 0 or h[-1] <= 0:
            return 0.0
        g = (np.log(h[-1]) - np.log(h[-1 - w])) / w
        g = g * cfg.forecast_optimism if g > 0 else g / max(cfg.forecast_optimism, 1e-9)
        return min(g, np.log(cfg.max_growth_per_year) / 12)

    def capacity_gap(self, lead_time: float, pipeline: float, rivals_growth: float) -> float:
        """H100e to order (>0) or cancel (<0) to reach the planned capacity at the horizon."""
        cfg = self.cfg
        horizon = min(lead_time + cfg.planning_horizon_months, cfg.max_forecast_horizon_months)
        demand = self.demand_history[-1] * np.exp(self.forecast_growth() * horizon)
        own_target = demand / cfg.target_utilization
        base = max(self.installed, 1.0)
        log_target = (1 - cfg.herding) * np.log(max(own_target, 1.0)) + cfg.herding * np.log(
            base * rivals_growth
        )
        target = float(np.exp(log_target))
        self.planned_growth = target / base
        survival = (1.0 - cfg.failure_rate_per_year) ** (horizon / 12)
        return target - (self.installed + pipeline) * survival

    def capex_room(self, pipeline_value: float) -> float:
        """USD it can still commit to new orders: cash plus debt headroom less commitments."""
        headroom = max(self.cfg.max_debt_to_book * self.book_value - self.debt, 0.0)
        return max(self.cash + headroom - pipeline_value, 0.0)
