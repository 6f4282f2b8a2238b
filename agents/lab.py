"""AI labs: turn compute into AI services, price them, and buy compute to serve and train.

A lab's efficiency (tokens per H100e-month) is the background algorithmic progress times the
gains of the discoveries it has adopted. Its token price is its compute cost per token times
a markup that competition limits: the Bertrand-Nash markup of a logit market, where a lab
with share s facing choice sensitivity beta and usage elasticity eps has Lerner index
1 / (beta (1 - s) + eps). Training budgets are set in dollars from smoothed revenue, so
cheaper compute buys bigger runs. Labs reserve part of their needs on long contracts
(take-or-pay), buy the rest spot, raise money from investors while revenue grows, and go
bankrupt when they cannot pay a compute bill.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

if TYPE_CHECKING:
    from model.config import LabConfig

HOURS_PER_MONTH = 730.0


class AILab(mesa.Agent):
    def __init__(
        self,
        model: mesa.Model,
        cfg: LabConfig,
        index: int,
        cash: float,
        training_stock: float,
        compute_price: float,
        revenue: float,
    ) -> None:
        super().__init__(model)
        self.cfg = cfg
        self.index = index  # position in the model's per-lab arrays
        self.cash = cash  # USD
        self.alive = True
        self.gain = 1.0  # product of adopted discovery gains
        self.adopted: set[int] = set()  # discovery ids
        self.training_stock = training_stock  # effective H100e-months of training, cumulative
        self.compute_price = compute_price  # USD per H100e-hour paid on average last month
        self.revenue_ema = revenue  # USD per month
        self.revenue_history: list[float] = [revenue]
        self.gross_ema = 0.0  # USD per month: revenue less inference compute cost, smoothed
        self.cost_ema = 0.0  # USD per month of compute spending, smoothed
        self.last_round = -cfg.funding_interval_months  # step of the last funding round
        self.price = 0.0  # USD per token
        self.share = 0.0  # share of tokens demanded last month
        self.revenue = revenue
        self.compute_spend = 0.0
        self.inference_h100e = 0.0
        self.training_h100e = 0.0
        self.tokens_served = 0.0
        self.tokens_demanded = 0.0
        self.unpaid = 0.0  # USD it failed to pay when it went bankrupt

    # --- measures ---------------------------------------------------------------
    @property
    def efficiency(self) -> float:
        """Efficiency multiple relative to month 0 (background progress x adopted gains)."""
        return self.model.background_efficiency * self.gain

    @property
    def tokens_per_h100e_month(self) -> float:
        return self.model.config.efficiency.tokens_per_h100e_month * self.efficiency

    @property
    def price_per_mtok(self) -> float:
        """Token price in USD per million tokens."""
        return self.price * 1e6

    @property
    def quality(self) -> float:
        """Model quality index: log of effective training compute times an exponent."""
        return self.cfg.training_quality_exponent * float(np.log(max(self.training_stock, 1.0)))

    @property
    def training_budget(self) -> float:
        """USD per month for training: gross profit plus cash spread over the runway.

        A lab investors would not fund now (revenue not growing) conserves its cash.
        """
        runway = self.cfg.training_runway_months * (1.0 if self.can_raise() else self.cfg.conserve_factor)
        return max(self.gross_ema, 0.0) + max(self.cash, 0.0) / runway

    # --- decisions ----------------------------------------------------------------
    def adopt(self, discovery_id: int, gain: float) -> bool:
        if not self.alive or discovery_id in self.adopted:
            return False
        self.adopted.add(discovery_id)
        self.gain *= gain
        return True

    def set_price(self, choice_sensitivity: float, demand_elasticity: float) -> None:
        """Cost per token times the logit Bertrand-Nash markup for the lab's share."""
        elasticity = choice_sensitivity * (1.0 - self.share) + demand_elasticity
        if elasticity > 1.0:
            lerner = 1.0 / elasticity
            markup = lerner / (1.0 - lerner)
        else:
            markup = self.cfg.max_markup
        markup = float(np.clip(markup, self.cfg.min_markup, self.cfg.max_markup))
        cost = self.compute_price * HOURS_PER_MONTH / self.tokens_per_h100e_month
        self.price = cost * (1.0 + markup)

    def reservation_target(self, inference_need: float) -> float:
        """H100e the lab wants on long contracts: a share of its inference base load.

        Training runs are bought spot with the training budget; serving users is what labs
        cannot afford to have interrupted.
        """
        return self.cfg.reserved_share * inference_need

    # --- money ----------------------------------------------------------------------
    def record_revenue(self, revenue: float) -> None:
        self.revenue = revenue
        a = 1.0 / self.cfg.revenue_smoothing_months
        self.revenue_ema += a * (revenue - self.revenue_ema)
        self.revenue_history.append(revenue)
        del self.revenue_history[:-13]

    def revenue_growth(self) -> float:
        """Revenue over the last 12 months (x per year); 1 when history is short."""
        h = self.revenue_history
        if len(h) < 13 or h[0] <= 0:
            return 1.0
        return h[-1] / h[0]

    def can_raise(self) -> bool:
        return self.revenue_growth() >= self.cfg.funding_min_growth_per_year

    def funding_round(self) -> float:
        """USD investors put in now: a round sized on revenue, when cash runs short."""
        cfg = self.cfg
        if self.model.steps - self.last_round < cfg.funding_interval_months:
            return 0.0
        if self.cash >= cfg.funding_runway_months * self.cost_ema or not self.can_raise():
            return 0.0
        self.last_round = self.model.steps
        return cfg.funding_revenue_years * 12 * self.revenue_ema

    def record_costs(self, spend: float, inference_cost: float) -> None:
        a = 1.0 / self.cfg.revenue_smoothing_months
        self.compute_spend = spend
        self.cost_ema += a * (spend - self.cost_ema)
        self.gross_ema += a * (self.revenue - inference_cost - self.gross_ema)
