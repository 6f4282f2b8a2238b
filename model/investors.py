"""Investors: a finite, growing flow of capital for AI labs, rationed when labs ask for more.

A market mechanism, not an agent: investors are not modelled one by one; what binds is how
much capital the world puts into AI labs. Each month an inflow F(t) arrives (USD per month):

    ln F(t) = ln F0 + ln(g) (1 - exp(-k t / 12)) / k,   k = ln 2 / half-life (years),

a growth rate g per year at month 0 that halves every half-life, so the inflow levels off at
F0 g^(1/k) instead of exploding. Labs that qualify for a round request it; the pool grants
every request in full when the capital available (dry powder plus this month's inflow)
covers them all, otherwise the same share of each request (pro rata), and nothing once it
is empty. What is left carries over as dry powder, up to `dry_powder_cap_months` of the
current inflow; the rest goes to other uses and never reaches a lab.

Investors' required return is the labs' revenue-growth gate (`labs.funding_min_growth_per_year`,
applied by `AILab.funding_request`): the pool only sees requests from labs that pass it. The
pool is a budget, not a cash account: the money itself moves through the ledger, from the
"investors" account to the lab, so conservation is untouched.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from aibubble.config import InvestorConfig


class InvestorPool:
    def __init__(self, cfg: InvestorConfig) -> None:
        self.cfg = cfg
        self.dry_powder = 0.0  # USD available and not yet committed, carried month to month
        self.inflow = 0.0  # USD that arrived this month
        self.requested = 0.0  # USD labs asked for this month

    def inflow_usd(self, month: int) -> float:
        """F(t): USD per month of new capital for AI labs, its growth rate halving every half-life."""
        cfg = self.cfg
        k = math.log(2.0) / cfg.inflow_growth_halflife_years
        log_growth = math.log(cfg.inflow_growth_per_year) * (1.0 - math.exp(-k * month / 12.0)) / k
        return float(cfg.inflow_usd_per_month * math.exp(log_growth))

    def grant(self, month: int, requests: np.ndarray) -> np.ndarray:
        """USD granted per request: in full when the pool covers them all, else pro rata."""
        self.inflow = self.inflow_usd(month)
        self.requested = float(requests.sum())
        available = self.dry_powder + self.inflow
        if self.requested <= available:
            grants, left = requests.astype(float), available - self.requested
        else:
            grants, left = available * (requests / self.requested), 0.0
        self.dry_powder = min(left, self.cfg.dry_powder_cap_months * self.inflow)
        return grants
