"""The GPU vendor: a FIFO order book against a production capacity.

Orders (H100e, priced when placed) wait in a backlog; each month the vendor ships up to its
production capacity, oldest first, never earlier than the minimum lead time. Part of each
order is firm (prepaid or take-or-pay) and cannot be cancelled. The quoted lead time rises
with the backlog measured in months of production; the price carries a premium when the
backlog is long and a discount when it is short (the vendor's margin falls in a glut).
Physical production expands while orders are backlogged and is cut while they are not, as
chip makers reallocate foundry and packaging capacity; an expansion decided on a backlog can
come on line months later (`expansion_lag_months`), while cuts act at once. Its output in
H100e also grows with hardware price-performance, and its price per H100e falls with it. The
vendor is outside the model's agents: its receipts go to the `gpu_vendor` account of the
ledger.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aibubble.config import EfficiencyConfig, GpuMarketConfig


@dataclass
class Order:
    buyer: int  # hyperscaler unique_id
    h100e: float
    price_usd_per_h100e: float
    placed: int  # step
    firm: float = 0.0  # H100e of it that cannot be cancelled (prepaid or take-or-pay)


def hardware_performance(step: Any, doubling_years: float) -> Any:
    """H100e per physical GPU bought at `step` (month 0 = 1): FLOP per dollar doubles every
    `doubling_years` (scalar or array)."""
    return 2.0 ** (step / (12.0 * doubling_years))


@dataclass
class GpuVendor:
    cfg: GpuMarketConfig
    hw: EfficiencyConfig
    capacity: float  # GPUs a month it can make, counted in H100e of month-0 performance
    backlog: list[Order] = field(default_factory=list)
    month: int = 0  # the month it last shipped in
    _pending: float = 0.0  # H100e in the backlog, kept as orders come, go and ship
    # log expansions decided and not yet on line, oldest first (expansion_lag_months of them)
    _expansions: deque[float] = field(default_factory=deque)

    def __post_init__(self) -> None:
        # orders were backlogged before month 0 (lead times of 8-11 months in mid-2023), so the
        # expansions already decided come on line at the sourced rate
        lag = self.cfg.expansion_lag_months
        self._expansions.extend(self.monthly_growth(m - lag) for m in range(lag))

    @property
    def production_h100e_per_month(self) -> float:
        """H100e it makes a month: its physical output times the price-performance of this
        month's GPUs (a later chip is more H100e)."""
        return self.capacity * self.hardware_performance(self.month)

    @property
    def backlog_h100e(self) -> float:
        return self._pending

    @property
    def backlog_months(self) -> float:
        return self.backlog_h100e / self.production_h100e_per_month

    def hardware_performance(self, step: float) -> float:
        """H100e per physical GPU bought at `step` (month 0 = 1): FLOP/$ doubling."""
        return hardware_performance(step, self.hw.hardware_doubling_years)

    def monthly_growth(self, step: int) -> float:
        """Log growth of production per backlogged month: the sourced rate over the months its
        source measured, then halving every half-life."""
        cfg = self.cfg
        decay = 0.5 ** (
            max(step - cfg.production_growth_sourced_months, 0)
            / (12.0 * cfg.production_growth_halflife_years)
        )
        return math.log(cfg.production_growth_per_year) / 12 * decay

    def monthly_cut(self) -> float:
        """Log change of production in a month whose backlog is below normal: cuts in
        proportion to the shortfall, at the full rate when the order book is empty."""
        shortfall = 1.0 - min(self.backlog_months / self.cfg.normal_backlog_months, 1.0)
        return float(math.log(1.0 - self.cfg.production_cut_per_year) / 12 * shortfall)

    def lead_time_months(self) -> float:
        """Months until an order placed now ships: the backlog ahead of it (first in, first
        out), but never less than the minimum time to build, ship and install."""
        return max(float(self.cfg.min_lead_time_months), self.backlog_months)

    def price_usd_per_h100e(self, step: int) -> float:
        cfg = self.cfg
        base = cfg.price_usd_per_h100e / self.hardware_performance(step)
        excess = cfg.price_backlog_sensitivity * (self.backlog_months - cfg.normal_backlog_months)
        return base * (1.0 + min(max(excess, -cfg.max_price_discount), cfg.max_price_premium))

    def place(
        self, buyer: int, h100e: float, step: int, firm_share: float = 0.0, price: float | None = None
    ) -> Order:
        """Book an order at this month's price (`price`, when the buyer has just been quoted it)."""
        quoted = self.price_usd_per_h100e(step) if price is None else price
        order = Order(buyer, h100e, quoted, step, firm_share * h100e)
        self.backlog.append(order)
        self._pending += h100e
        return order

    def cancel(self, buyer: int, h100e: float) -> list[Order]:
        """Cancel up to `h100e` of the cancellable part of the buyer's newest orders; returns
        the cancelled parts (firm parts stay and are delivered)."""
        cancelled: list[Order] = []
        for order in reversed(self.backlog):
            if h100e <= 1e-9:
                break
            if order.buyer != buyer:
                continue
            cut = min(order.h100e - order.firm, h100e)
            if cut <= 0:
                continue
            order.h100e -= cut
            h100e -= cut
            cancelled.append(Order(buyer, cut, order.price_usd_per_h100e, order.placed))
        self.backlog = [o for o in self.backlog if o.h100e > 1e-9]
        self._pending = sum(o.h100e for o in self.backlog)
        return cancelled

    def ship(self, step: int) -> list[Order]:
        """Ship this month's production, oldest orders first; then decide an expansion if
        orders are backlogged (on line `expansion_lag_months` later), and cut production at
        once if the backlog is below normal."""
        self.month = step
        room = self.production_h100e_per_month
        shipped: list[Order] = []
        for order in self.backlog:
            if room <= 0:
                break
            if step - order.placed < self.cfg.min_lead_time_months:
                continue
            part = min(order.h100e, room)
            order.h100e -= part
            order.firm = max(order.firm - part, 0.0)  # deliveries fulfil the commitment first
            room -= part
            shipped.append(Order(order.buyer, part, order.price_usd_per_h100e, order.placed))
        self.backlog = [o for o in self.backlog if o.h100e > 1e-9]
        self._pending = sum(o.h100e for o in self.backlog)
        backlogged = self.backlog_months > self.cfg.normal_backlog_months
        decided = self.monthly_growth(step) if backlogged else 0.0
        self._expansions.append(decided)
        on_line = self._expansions.popleft()  # decided expansion_lag_months ago (now, at 0)
        self.capacity *= np.exp(on_line + self.monthly_cut())  # the cut is 0 while backlogged
        return shipped

    def firm(self, buyer: int) -> float:
        """H100e of the buyer's undelivered orders that cannot be cancelled."""
        return sum(o.firm for o in self.backlog if o.buyer == buyer)

    def pending(self, buyer: int) -> tuple[float, float]:
        """(H100e, USD value) of the buyer's undelivered orders (one pass over the backlog,
        adding in backlog order as `sum` would)."""
        h100e = value = 0.0
        for o in self.backlog:
            if o.buyer == buyer:
                h100e += o.h100e
                value += o.h100e * o.price_usd_per_h100e
        return h100e, value
