"""Hyperscalers: own the GPU fleet, rent it out, and decide how much more to build.

The fleet is held as cohorts (month bought, H100e, operating cost per H100e-hour, purchase
cost, book value): newer cohorts are cheaper to run per H100e because hardware
price-performance improves, which orders the merit order of the spot market. Each month a
hyperscaler measures the capacity its share of the market would rent at the user cost of a
new GPU (Jorgenson 1963: capital is wanted up to where its rent equals its user cost, Tobin's
q = 1 at the margin), with headroom on the inference part users wait for; it extrapolates
that want's recent growth over its lead time (scaled by optimism, pulled toward competitors'
plans by herding: extrapolative expectations, Greenwood & Hanson 2015). It orders
toward that capacity within its capex budget, part of each order firm, or cancels the
cancellable part of its undelivered orders when it has too much, paying a penalty that is an
expense. It depreciates cohorts straight-line over their remaining book life, tests them for
impairment as US GAAP ASC 360 does (undiscounted expected cash flows first, then a write-down
to their discounted value), and retires them when rent no longer covers operating cost or
they reach their physical end of life. Its GPUs sit in data-centre shells (buildings, power
and cooling), a separate long-lived asset it starts building ahead of the fleet it expects
(`plan_shells`), depreciates over decades and keeps through a glut.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import mesa
import numpy as np

from aibubble.gpu_market import hardware_performance
from aibubble.measures import HOURS_PER_MONTH
from aibubble.shells import Shells

if TYPE_CHECKING:
    from aibubble.config import HyperscalerConfig
    from aibubble.gpu_market import GpuVendor, Order

from aibubble.compute_market import Offer


def _appended(values: np.ndarray, value: float) -> np.ndarray:
    """A new array: `values` then `value`, in `values`' dtype (cheaper than concatenating a
    one-element list, which numpy must first convert to an array)."""
    out = np.empty(values.size + 1, dtype=values.dtype)
    out[:-1] = values
    out[-1] = value
    return out


class Hyperscaler(mesa.Agent):
    kind = "hyperscaler"  # agent type in the event log

    def __init__(self, model: mesa.Model, cfg: HyperscalerConfig, cash: float, capital_share: float) -> None:
        super().__init__(model)
        self.cfg = cfg
        self.cash = cash  # USD
        self.debt = 0.0  # USD
        self.capital_share = capital_share  # share of the core businesses' cash flow it receives
        self.born = np.zeros(0, dtype=np.int64)  # step each cohort was delivered
        self._installed: float | None = None  # sum of h100e, None until read after a change
        self._book_value: float | None = None  # sum of book, likewise
        self.h100e = np.zeros(0)  # H100e per cohort
        self.opex = np.zeros(0)  # USD per H100e-hour per cohort
        self.cost = np.zeros(0)  # USD paid per cohort (adjusted for failures)
        self.book = np.zeros(0)  # USD book value per cohort
        self.kw_per_h100e = np.zeros(0)  # kW of critical load per H100e, per cohort
        self._fleet_kw = 0.0  # kW the fleet needs, kept as cohorts come, fail and go
        self.demand_history: list[float] = []  # H100e it would rent out at the user cost, per month
        self.used = 0.0  # H100e-months used last month
        self.utilization = 0.0
        self.realised_price = 0.0  # USD per used H100e-hour, smoothed
        self.revenue = 0.0
        self.planned_growth = 1.0  # (target capacity / installed) from its last plan
        self.orders = self.cancellations = self.deliveries = 0.0  # H100e this month
        self.capex = self.write_downs = self.depreciation = self.opex_paid = 0.0  # USD this month
        self.penalty = 0.0  # USD of cancellation penalties this month
        # this month's write-downs by cause (USD): failed GPUs, retired cohorts, impairment,
        # and the book written off when a debt-financed builder defaults
        self.written_off = {"failure": 0.0, "retirement": 0.0, "impairment": 0.0, "default": 0.0}
        self.q = 1.0  # realised rent at the planned headroom over a new GPU's user cost (Tobin's q)
        self.interest = 0.0  # USD paid this month
        self.defaults = 0  # reorganisations so far (a core business keeps a hyperscaler solvent)
        self.default_losses = 0.0  # USD of its debt lenders wrote off this month
        self.returns: list[float] = []  # annualised return on invested capital, last 12 months
        # USD this month: revenue - opex - depreciation - write-downs - interest - penalties
        self.profit = 0.0
        self.cash_margin = np.zeros(0)  # USD per cohort this month: its rent less its opex
        self.shells = Shells(cfg.shell_cost_usd_per_kw, cfg.shell_build_months, cfg.shell_life_months)
        self.shell_capex = 0.0  # USD paid for shells this month (part of capex)

    # --- measures -------------------------------------------------------------------
    # The fleet's totals are read a dozen times a month and change a few times: each is
    # summed once after its array is replaced. The arrays are read-only, so that no change
    # in place can leave a total stale (`setflags`: a direct call, where assigning
    # `flags.writeable` goes through a flags object that calls it).
    @property
    def h100e(self) -> np.ndarray:
        """H100e per cohort."""
        return self._h100e

    @h100e.setter
    def h100e(self, value: np.ndarray) -> None:
        value.setflags(write=False)
        self._h100e, self._installed = value, None

    @property
    def book(self) -> np.ndarray:
        """USD book value per cohort."""
        return self._book

    @book.setter
    def book(self, value: np.ndarray) -> None:
        value.setflags(write=False)
        self._book, self._book_value = value, None

    @property
    def installed(self) -> float:
        if self._installed is None:
            self._installed = float(self._h100e.sum())
        return self._installed

    @property
    def book_value(self) -> float:
        """USD carrying amount of the GPU fleet."""
        if self._book_value is None:
            self._book_value = float(self._book.sum())
        return self._book_value

    @property
    def invested(self) -> float:
        """USD of invested capital: the GPU fleet and the shells, built or being built."""
        return self.book_value + self.shells.assets

    def kw_per_h100e_at(self, step: float) -> float:
        """kW of critical load an H100e bought at `step` needs: `power_kw_per_gpu` per physical
        GPU, and a later GPU is more H100e."""
        years = self.model.config.efficiency.hardware_doubling_years
        return self.cfg.power_kw_per_gpu / hardware_performance(step, years)

    def fleet_kw(self) -> float:
        """kW of critical load the GPUs in service need: physical GPUs (H100e over each
        cohort's price-performance) at `power_kw_per_gpu`."""
        return self._fleet_kw

    def add_cohort(self, step: int, h100e: float, opex: float, cost: float, book: float) -> None:
        self.born = _appended(self.born, step)
        self.h100e = _appended(self.h100e, h100e)
        self.opex = _appended(self.opex, opex)
        self.cost = _appended(self.cost, cost)
        self.book = _appended(self.book, book)
        kw = self.kw_per_h100e_at(step)
        self.kw_per_h100e = _appended(self.kw_per_h100e, kw)
        self._fleet_kw += h100e * kw

    def install_initial_fleet(
        self,
        born: np.ndarray,
        h100e: np.ndarray,
        performance: np.ndarray,
        gpu_price_usd_per_h100e: float,
        growth_per_month: float,
        price: float,
    ) -> None:
        """The fleet bought before month 0, depreciated to date, and the demand history that
        growth implies (so the first forecasts extrapolate the growth the fleet was built for)."""
        cfg = self.cfg
        for t, h, perf in zip(born, h100e, performance, strict=True):
            cost = h * gpu_price_usd_per_h100e / perf
            # depreciated since the month after delivery, as a delivery in the run is
            book = cost * max(0.0, 1 - (-t - 1) / cfg.book_life_months)
            self.add_cohort(int(t), h, cfg.opex_usd_per_gpu_hour / perf, cost, book)
            self.model.vintages.buy(int(t), h, cost, cfg.opex_usd_per_gpu_hour / perf)
        self._open_shells(born, h100e, performance, growth_per_month)
        start = self.installed
        window = cfg.forecast_window_months
        self.demand_history = [start * growth_per_month ** (k - window) for k in range(window + 1)]
        self.utilization = cfg.target_utilization
        self.realised_price = price

    def _open_shells(
        self, born: np.ndarray, h100e: np.ndarray, performance: np.ndarray, growth_per_month: float
    ) -> None:
        """Month 0's shells: one for every GPU of the initial fleet, built with it, and those
        under way for the fleet's growth over the build time at the initial rate (physical
        GPUs grow by that rate over price-performance's)."""
        cfg = self.cfg
        kw = h100e / performance * cfg.power_kw_per_gpu
        months = cfg.shell_build_months
        years = self.model.config.efficiency.hardware_doubling_years
        physical = growth_per_month / float(hardware_performance(1.0, years))
        ahead = physical ** np.arange(months + 1)
        building = kw.sum() * np.diff(ahead).clip(min=0.0)
        self.shells.open(kw, -born - 1.0, building)

    def _drop(self, keep: np.ndarray) -> None:
        self.born, self.h100e, self.opex = self.born[keep], self.h100e[keep], self.opex[keep]
        self.cost, self.book, self.kw_per_h100e = self.cost[keep], self.book[keep], self.kw_per_h100e[keep]
        self._fleet_kw = float(self.h100e @ self.kw_per_h100e)

    # --- the spot market ---------------------------------------------------------------
    def ask(self) -> np.ndarray:
        """USD per H100e-hour asked per cohort: operating cost plus a markup."""
        return self.opex * (1.0 + self.cfg.ask_markup)

    def offer(self, trainable_since: int | None = None) -> Offer:
        """This month's offer: every cohort at its ask; with `trainable_since`, the cohorts
        delivered after that step are marked recent (frontier training can use them)."""
        recent = None if trainable_since is None else self.born > trainable_since
        return Offer(self.h100e, self.ask(), recent)

    # --- fleet accounting ---------------------------------------------------------------
    def operate(self, used_by_cohort: np.ndarray, revenue: float) -> None:
        """Book the month's use: utilization, operating cost, smoothed realised price."""
        self.used = float(used_by_cohort.sum())
        self.utilization = self.used / self.installed if self.installed > 0 else 0.0
        self.revenue = revenue
        cost = used_by_cohort * self.opex
        self.opex_paid = float(cost.sum() * HOURS_PER_MONTH)
        # rent is booked per host, not per GPU: each cohort earns its share of what was used
        # (of what is installed, when nothing was), so the margins add up to revenue - opex
        weights, total = (used_by_cohort, self.used) if self.used > 0 else (self.h100e, self.installed)
        self.cash_margin = (revenue * weights / total if total > 0 else 0.0) - cost * HOURS_PER_MONTH
        if self.used > 0:
            price = revenue / (self.used * HOURS_PER_MONTH)
            a = self.cfg.realised_price_smoothing
            self.realised_price = (
                price if self.realised_price == 0 else (1 - a) * self.realised_price + a * price
            )

    def remaining_life(self, step: int) -> np.ndarray:
        """Months of book life left per cohort, this month included (a cohort is first
        depreciated the month after its delivery)."""
        return np.maximum(self.cfg.book_life_months + 1 - step + self.born, 0)

    def depreciate(self, step: int) -> float:
        """Straight-line depreciation of the carrying amount over the remaining book life
        (after an impairment the written-down amount is the new basis, ASC 360-10-35-20);
        returns USD this month."""
        # months of book life left, at least one (`remaining_life` clipped at 1, not 0)
        dep = self.book / np.maximum(self.cfg.book_life_months + 1 - step + self.born, 1)
        self.book = self.book - dep
        self.depreciation = float(dep.sum())
        return self.depreciation

    def fail(self) -> tuple[float, float]:
        """Remove failed GPUs (H100e) and write off their book value (USD)."""
        frac = 1.0 - (1.0 - self.cfg.failure_rate_per_year) ** (1 / 12)
        lost = self.h100e * frac
        written = self.book * frac
        self.h100e = self.h100e - lost
        self._fleet_kw *= 1 - frac  # every cohort loses the same share
        self.cost = self.cost * (1 - frac)
        self.book = self.book - written
        return float(lost.sum()), float(written.sum())

    def retire(self, step: int, price: float) -> tuple[float, float]:
        """Retire cohorts past physical life or whose operating cost exceeds the rent."""
        old = self.born <= step - self.cfg.max_age_months
        stranded = self.opex > price
        out = old | stranded
        if not out.any():
            return 0.0, 0.0
        h100e, book = float(self.h100e[out].sum()), float(self.book[out].sum())
        self._drop(~out)
        return h100e, book

    def recoverable(
        self, step: int, price: float, utilization: float, monthly_rate: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per cohort, the expected margin over operating cost (at `price` and
        `utilization`) over the book life left at `step`: (undiscounted, discounted) USD."""
        remaining = self.remaining_life(step).astype(float)
        margin = np.maximum(price - self.opex, 0.0) * HOURS_PER_MONTH * utilization * self.h100e
        undiscounted = margin * remaining
        if monthly_rate > 0:
            return undiscounted, margin * (1 - (1 + monthly_rate) ** (-remaining)) / monthly_rate
        return undiscounted, undiscounted

    def impair(self, step: int, price: float, utilization: float, monthly_rate: float) -> float:
        """ASC 360: a cohort whose undiscounted expected cash flows over its remaining book
        life (margin over operating cost at the expected rent and utilization) fall short of
        its carrying amount is written down to their discounted value; returns USD."""
        undiscounted, fair = self.recoverable(step, price, utilization, monthly_rate)
        loss = np.where(undiscounted < self.book, np.maximum(self.book - fair, 0.0), 0.0)
        self.book = self.book - loss
        return float(loss.sum())

    @property
    def monthly_discount_rate(self) -> float:
        return (1 + self.cfg.discount_rate_per_year) ** (1 / 12) - 1

    def allocation_factor(self) -> float:
        """Share of its capital allocation the core business grants: all of it while AI earns
        its cost of capital over the last year, less as returns fall short, none at a loss
        (hypothesis: boards fund AI capex from core cash flow while it pays)."""
        if not self.returns:
            return 1.0
        hurdle = self.cfg.discount_rate_per_year
        mean = sum(self.returns) / len(self.returns)
        return min(max(mean / hurdle, 0.0), 1.0) if hurdle > 0 else float(mean >= 0)

    # --- the month ------------------------------------------------------------------
    def run_month(
        self,
        step: int,
        used_by_cohort: np.ndarray,
        revenue: float,
        core_cash_flow: float,
        wanted: float,
        rent_reference: float,
    ) -> tuple[float, float]:
        """Operate, get the month's capital allocation, pay interest, age the fleet and book
        profit. `wanted` (H100e) is the capacity its share of the market would rent at the
        user cost of a new GPU, with headroom: what its forecasts extrapolate. Returns
        (failed, retired) H100e."""
        cfg = self.cfg
        ledger, events = self.model.ledger, self.model.events
        self.operate(used_by_cohort, revenue)
        self.model.vintages.earn(step, self.born, self.cash_margin)
        ledger.transfer(self, "operations", self.opex_paid, "opex")
        share = cfg.capex_share_of_core_cash_flow * self.capital_share * self.allocation_factor()
        ledger.transfer("core_business", self, core_cash_flow * share, "capital_allocation")
        interest = ledger.transfer(self, "lenders", self.debt * cfg.interest_rate_per_year / 12, "interest")
        self.demand_history.append(wanted)
        del self.demand_history[: -cfg.forecast_window_months - 1]
        dep = self.depreciate(step)
        paid, shell_dep = self.shells.month()
        self.shell_capex = ledger.transfer(self, "construction", paid, "shell_capex")
        self.depreciation += shell_dep
        dep += shell_dep
        failed, failed_book = self.fail()
        retired, retired_book = self.retire(step, rent_reference)
        impaired = 0.0
        if step % cfg.impairment_test_interval_months == 0:
            # this month is depreciated and earned already: the test counts the months after it
            expected, rate = self.expected_utilization(), self.monthly_discount_rate
            impaired = self.impair(step + 1, self.realised_price, expected, rate)
        self.written_off = {
            "failure": failed_book,
            "retirement": retired_book,
            "impairment": impaired,
            "default": 0.0,
        }
        self.write_downs = failed_book + retired_book + impaired
        if retired > 0:
            events.add(
                step,
                self.unique_id,
                self.kind,
                "retirement",
                "rent below operating cost or end of life",
                retired,
            )
        if impaired > 0:
            events.add(
                step, self.unique_id, self.kind, "write_down", "rental value below book value", impaired
            )
        self.interest = interest
        self.profit = self.revenue - self.opex_paid - dep - self.write_downs - interest
        self.penalty = 0.0  # booked by plan_orders, which closes the month
        self.deliveries = 0.0  # this month's deliveries arrive next (take_delivery)
        self.capex = self.shell_capex
        return failed, retired

    def take_delivery(self, step: int, order: Order, opex_usd_per_gpu_hour: float) -> None:
        """Pay for a shipped order and put it in service as a new cohort, in a shell: an
        empty one if it has any, else one bought built."""
        ledger = self.model.ledger
        cost = order.h100e * order.price_usd_per_h100e
        ledger.transfer(self, "gpu_vendor", cost, "capex")
        self.add_cohort(step, order.h100e, opex_usd_per_gpu_hour, cost, cost)
        self.model.vintages.buy(step, order.h100e, cost, opex_usd_per_gpu_hour)
        self.deliveries += order.h100e
        self.capex += cost
        short = self.fleet_kw() - self.shells.kw
        if short > 1e-9 * self.shells.kw:  # not the rounding of a fleet that fits
            paid = ledger.transfer(self, "construction", self.shells.build_at_once(short), "shell_capex")
            self.shell_capex += paid
            self.capex += paid

    def shell_usd_per_h100e(self, step: float) -> float:
        """USD of shell a new H100e needs at `step` (a later GPU is more H100e per kW)."""
        return self.cfg.shell_cost_usd_per_kw * self.kw_per_h100e_at(step)

    def user_cost(
        self, price_usd_per_h100e: float, opex_usd_per_gpu_hour: float, shell_usd_per_h100e: float
    ) -> float:
        """USD per H100e-hour a new GPU costs to hold and run: the price paid times the
        discount rate plus depreciation and attrition, and its shell's cost times the discount
        rate plus the shell's depreciation, per hour, plus operating cost (Jorgenson 1963; the
        breakeven rent of sources.md#latent-space-breakeven)."""
        cfg = self.cfg
        r = cfg.discount_rate_per_year
        rate = r + 12 / cfg.book_life_months + cfg.failure_rate_per_year
        shell_rate = r + 12 / cfg.shell_life_months
        capital = price_usd_per_h100e * rate + shell_usd_per_h100e * shell_rate
        return capital / (12 * HOURS_PER_MONTH) + opex_usd_per_gpu_hour

    def tobin_q(self, rent: float, user_cost: float) -> float:
        """Rent per used H100e-hour at the planned headroom over a new GPU's user cost."""
        return rent * self.cfg.target_utilization / user_cost

    def plan_orders(
        self,
        step: int,
        vendor: GpuVendor,
        lead_time: float,
        rivals_growth: float,
        opex_usd_per_gpu_hour: float,
    ) -> None:
        """Order toward the planned capacity within the capex budget, or cancel the
        cancellable part of undelivered orders when the pipeline already exceeds it; the
        penalty is an expense of the month."""
        cfg = self.cfg
        ledger, events = self.model.ledger, self.model.events
        pipeline, pipeline_value = vendor.pending(self.unique_id)
        price = vendor.price_usd_per_h100e(step)
        shell = self.shell_usd_per_h100e(step)
        self.q = self.tobin_q(self.realised_price, self.user_cost(price, opex_usd_per_gpu_hour, shell))
        gap = self.capacity_gap(lead_time, pipeline, max(rivals_growth, 1e-6)) / cfg.order_adjustment_months
        self.orders = self.cancellations = 0.0
        if gap > 0:
            amount = min(gap, self.capex_room(pipeline_value) / price)
            if amount > 0:
                vendor.place(self.unique_id, amount, step, cfg.firm_order_share, price)
                self.orders = amount
                pipeline, pipeline_value = pipeline + amount, pipeline_value + amount * price
                events.add(step, self.unique_id, self.kind, "order", "forecast above capacity", amount)
        elif gap < 0 and pipeline > 0:
            cancelled = vendor.cancel(self.unique_id, min(-gap, pipeline))
            amount = sum(o.h100e for o in cancelled)
            value = sum(o.h100e * o.price_usd_per_h100e for o in cancelled)
            pipeline, pipeline_value = pipeline - amount, pipeline_value - value
            penalty = value * cfg.cancellation_penalty
            self.penalty = ledger.transfer(self, "gpu_vendor", penalty, "cancellation_penalty")
            self.profit -= self.penalty
            self.cancellations = amount
            if amount > 0:
                events.add(step, self.unique_id, self.kind, "cancellation", "forecast below capacity", amount)
        self.plan_shells(step, lead_time, pipeline, pipeline_value)

    def plan_shells(self, step: int, lead_time: float, pipeline: float, pipeline_value: float) -> None:
        """Start the shells its fleet will need once they are built: for the GPUs it has, those
        it has ordered, and the further capacity it expects to want by then (its own forecast,
        as for orders), less the shells it has or is building (empty ones first), within the
        money it can commit."""
        cfg = self.cfg
        months = cfg.shell_build_months
        later = self.demand_history[-1] * math.exp(self.forecast_growth() * months)
        beyond = max(later - self.installed - pipeline, 0.0)
        kw_soon, kw_later = self.kw_per_h100e_at(step + lead_time), self.kw_per_h100e_at(step + months)
        need = pipeline * kw_soon + beyond * kw_later
        have = self.shells.kw + self.shells.building_kw
        kw = self.fleet_kw() + need - have
        cost = cfg.shell_cost_usd_per_kw
        if kw > 0 and cost > 0:
            kw = min(kw, self.capex_room(pipeline_value) / cost)
        if kw > 1e-9 * have:  # not the rounding of a plan that is met, or of money that is spent
            self.shells.start(kw)

    def close_month(self) -> None:
        """Record the month's return on invested capital (profit before interest, annualised)
        for the next allocations."""
        if self.invested > 0:
            self.returns.append(12 * (self.profit + self.interest) / self.invested)
            del self.returns[:-12]

    def finance(self) -> None:
        """Borrow to keep cash non-negative; repay a share of surplus cash while in debt."""
        ledger = self.model.ledger
        if self.cash < 0:
            self.debt += ledger.transfer("lenders", self, -self.cash, "borrowing")
        elif self.debt > 0:
            repay = min(self.debt, self.cfg.debt_repayment_share_of_cash * self.cash)
            ledger.transfer(self, "lenders", repay, "repayment")
            self.debt -= repay

    # --- planning ------------------------------------------------------------------
    def forecast_growth(self) -> float:
        """Expected log growth of its demand per month: trend x optimism, capped."""
        cfg = self.cfg
        h = self.demand_history
        w = min(cfg.forecast_window_months, len(h) - 1)
        if w < 1 or h[-1 - w] <= 0 or h[-1] <= 0:
            return 0.0
        g = (math.log(h[-1]) - math.log(h[-1 - w])) / w
        g = g * cfg.forecast_optimism if g > 0 else g / max(cfg.forecast_optimism, 1e-9)
        return min(g, math.log(cfg.max_growth_per_year) / 12)

    def expected_utilization(self) -> float:
        """Utilization it expects of its fleet: its planned headroom, or less when the
        capacity it forecasts the market to want over its planning horizon falls short."""
        cfg = self.cfg
        if self.installed <= 0:
            return 0.0
        wanted = self.demand_history[-1] * math.exp(self.forecast_growth() * cfg.planning_horizon_months)
        return cfg.target_utilization * min(1.0, wanted / self.installed)

    def capacity_gap(self, lead_time: float, pipeline: float, rivals_growth: float) -> float:
        """H100e to order (>0) or cancel (<0) to reach the planned capacity at the horizon:
        the capacity wanted at the user cost, extrapolated over lead time and planning."""
        cfg = self.cfg
        horizon = min(lead_time + cfg.planning_horizon_months, cfg.max_forecast_horizon_months)
        own_target = self.demand_history[-1] * math.exp(self.forecast_growth() * horizon)
        base = max(self.installed, 1.0)
        log_target = (1 - cfg.herding) * math.log(max(own_target, 1.0)) + cfg.herding * math.log(
            base * rivals_growth
        )
        target = math.exp(log_target)
        self.planned_growth = target / base
        survival = (1.0 - cfg.failure_rate_per_year) ** (horizon / 12)
        return target - (self.installed + pipeline) * survival

    def capex_room(self, pipeline_value: float) -> float:
        """USD it can still commit to new orders: cash plus debt headroom less commitments
        (GPUs ordered, shells being built)."""
        headroom = max(self.cfg.max_debt_to_book * self.invested - self.debt, 0.0)
        return max(self.cash + headroom - pipeline_value - self.shells.commitments(), 0.0)


def rivals_growth(planned_growth: np.ndarray, installed: np.ndarray) -> np.ndarray:
    """Per hyperscaler, the capacity-weighted planned growth of the others (herding's anchor);
    1 where it has no rivals with capacity."""
    n = planned_growth.size
    columns = np.arange(n - 1)
    others = columns + (columns >= np.arange(n)[:, None])  # row j: every builder but j
    weights = installed[others]
    total = weights.sum(axis=1)
    mean = (planned_growth[others] * weights).sum(axis=1) / np.where(total > 0, total, 1.0)
    return np.where(total > 0, mean, 1.0)
