"""AIMarketModel: the AI compute market as a Mesa model.

One step is one month. The step reads as the schedule of the market:

1. efficiency   background progress; architects may discover; discoveries diffuse to labs
2. service      labs price tokens; users choose labs, adopt and adjust usage
3. contracts    reservations expire; labs reserve part of their needs with hyperscalers
4. compute      reserved capacity is used first; the rest clears in the spot market
5. money        users pay labs; labs pay hyperscalers, raise funding or go bankrupt
6. fleet        hyperscalers operate, depreciate, fail, retire and impair GPUs,
                take deliveries, forecast demand and order or cancel GPUs, and finance
7. observe      model-level measures and bubble indicators; data collection

Units: compute in H100e (installed) and H100e-months (used per month), prices in USD per
H100e-hour, money in USD per month, tokens per month.
"""

from __future__ import annotations

from typing import Any

import mesa
import numpy as np
import pandas as pd

from agents import AILab, Hyperscaler, ModelArchitect, UserPopulation
from model.compute_market import HOURS_PER_MONTH, clear_spot
from model.config import Config, load_config, with_headline
from model.contracts import ContractBook
from model.efficiency import Diffusion
from model.events import EventLog
from model.gpu_market import GpuVendor
from model.ledger import Ledger
from model.metrics import BubbleTracker, run_summary

# Agent-level names differ from model-level ones: mesa.batch_run merges both into one row.
HYPERSCALER_REPORTERS = {
    "installed_h100e": "installed",
    "fleet_utilization": "utilization",
    "orders_h100e": "orders",
    "cancellations_h100e": "cancellations",
    "deliveries_h100e": "deliveries",
    "fleet_capex_usd": "capex",
    "revenue_usd": "revenue",
    "profit_usd": "profit",
    "fleet_write_downs_usd": "write_downs",
    "fleet_book_value_usd": "book_value",
    "cash_usd": "cash",
    "debt_usd": "debt",
    "planned_growth": "planned_growth",
}
LAB_REPORTERS = {
    "alive": "alive",
    "efficiency": "efficiency",
    "price_usd_per_mtok": "price_per_mtok",
    "market_share": "share",
    "revenue_usd": "revenue",
    "compute_spend_usd": "compute_spend",
    "inference_h100e": "inference_h100e",
    "training_h100e": "training_h100e",
    "lab_tokens_served": "tokens_served",
    "quality": "quality",
    "cash_usd": "cash",
}
ARCHITECT_REPORTERS = {"lab_index": "lab_index", "discoveries": "discoveries"}


STREAMS = ("setup", "users", "architects", "exits")


def _streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent random streams per purpose, all derived from the run's seed.

    A counterfactual run (the same seed without a discovery) then draws exactly the same
    numbers for users and architects: common random numbers. The discovery's own draws
    (imitation) come from a stream keyed by the discovery itself (see efficiency.py).
    """
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(STREAMS, children, strict=True)}


def _shares(rng: np.random.Generator, n: int, sigma: float = 0.8) -> np.ndarray:
    """Unequal market shares (lognormal sizes), largest first."""
    s = np.sort(rng.lognormal(0.0, sigma, n))[::-1]
    return s / s.sum()


class AIMarketModel(mesa.Model):
    """The market; every keyword has a default so batch_run and SolaraViz can build it."""

    def __init__(
        self,
        scenario: str = "baseline",
        rng: Any = None,
        jump_size: float | None = None,
        jump_month: int | None = None,
        open_publication: bool | None = None,
        demand_elasticity: float | None = None,
        forecast_optimism: float | None = None,
        n_users: int | None = None,
        steps: int | None = None,
        config: Config | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> None:
        cfg = config if config is not None else load_config(scenario, overrides)
        headline = {
            "jump_size": jump_size,
            "jump_month": jump_month,
            "open_publication": open_publication,
            "demand_elasticity": demand_elasticity,
            "forecast_optimism": forecast_optimism,
            "n_users": n_users,
            "steps": steps,
        }
        cfg = with_headline(cfg, {k: v for k, v in headline.items() if v is not None})
        seed = cfg.run.seed if rng is None or rng == "" else rng
        if isinstance(seed, str):
            seed = int(seed)
        super().__init__(rng=seed)
        self.config = cfg
        self.seed = seed
        self.seed_entropy = int(seed) if isinstance(seed, int | np.integer) else int(self.rng.integers(2**63))
        self.streams = _streams(self.seed_entropy)
        self.ledger = Ledger()
        self.events = EventLog()
        self.contracts = ContractBook()
        self.diffusion = Diffusion(self)
        self.background_efficiency = 1.0
        self.spot_price = cfg.compute_market.initial_price_usd_per_gpu_hour
        self.reference_price = self.spot_price  # smoothed spot, USD per H100e-hour
        self.bankruptcies = 0
        self.vendor = GpuVendor(cfg.gpu_market, cfg.efficiency, cfg.gpu_market.production_h100e_per_month)
        self._build_labs()
        self._build_users()
        self._build_hyperscalers()
        self._build_architects()
        self._initial_contracts()
        self.bubble = BubbleTracker(cfg.bubble)
        self.metrics: dict[str, float] = {}
        installed = self.total_installed
        self._observe(None, used=installed * cfg.hyperscalers.target_utilization, available=installed)
        self.datacollector = mesa.DataCollector(
            model_reporters={c: (lambda m, c=c: m.metrics[c]) for c in self.metrics},
            agenttype_reporters={
                Hyperscaler: HYPERSCALER_REPORTERS,
                AILab: LAB_REPORTERS,
                ModelArchitect: ARCHITECT_REPORTERS,
            },
        )
        self.datacollector.collect(self)

    # ------------------------------------------------------------------ set-up
    def _build_labs(self) -> None:
        cfg = self.config
        self.lab_shares0 = _shares(self.streams["setup"], cfg.labs.count)
        p0 = self.spot_price
        # training stock in effective H100e-months: only ratios between labs matter (quality)
        self.labs: list[AILab] = [
            AILab(self, cfg.labs, i, cash=0.0, training_stock=1e6 * s, compute_price=p0, revenue=0.0)
            for i, s in enumerate(self.lab_shares0)
        ]
        for lab, s in zip(self.labs, self.lab_shares0, strict=True):
            self.ledger.transfer("investors", lab, cfg.labs.initial_cash_usd * s, "initial_funding")
            lab.share = float(s)
            lab.set_price(self.mean_choice_sensitivity, cfg.users.demand_elasticity)

    @property
    def mean_choice_sensitivity(self) -> float:
        """Users' mean logit weight on -log price (their lognormal spread has mean 1)."""
        return self.config.users.price_sensitivity

    def _build_users(self) -> None:
        cfg = self.config
        prices = self.lab_prices
        reference = float((prices * self.lab_shares0).sum())
        decline = self._expected_price_decline()
        self.users = UserPopulation(self, cfg.users, reference, self.lab_shares0, decline)
        tokens = self.users.desired_tokens_by_lab(len(self.labs))
        growth = cfg.hyperscalers.initial_growth_per_year
        for lab in self.labs:
            revenue = float(tokens[lab.index] * lab.price)
            lab.revenue = lab.revenue_ema = revenue
            lab.revenue_history = [revenue * growth ** ((k - 12) / 12) for k in range(13)]
            lab.tokens_demanded = float(tokens[lab.index])

    def _expected_price_decline(self) -> float:
        """Log decline of token prices per month that users have come to expect.

        Background progress plus the mean contribution of stochastic discoveries
        (rate x E[log gain] of the Pareto law = log gain_min + 1/alpha).
        """
        cfg = self.config
        a = cfg.architects
        mean_log_gain = np.log(a.gain_min) + 1.0 / a.gain_tail_alpha
        per_year = (
            np.log(cfg.efficiency.background_progress_per_year) + a.discoveries_per_year * mean_log_gain
        )
        return float(per_year / 12)

    def _build_hyperscalers(self) -> None:
        cfg = self.config.hyperscalers
        shares = _shares(self.streams["setup"], cfg.count, 0.5)
        g = cfg.initial_growth_per_year ** (1 / 12)
        history = np.arange(-24, 0)
        weights = g**history
        monthly = cfg.initial_capacity_h100e * weights / weights.sum()
        self.hyperscalers: list[Hyperscaler] = []
        for s in shares:
            hs = Hyperscaler(self, cfg, 0.0, float(s))
            self.ledger.transfer("core_business", hs, cfg.initial_cash_usd * s, "initial_funding")
            for t, h in zip(history, monthly * s, strict=True):
                perf = self.vendor.hardware_performance(t)
                cost = h * self.config.gpu_market.price_usd_per_h100e / perf
                book = cost * max(0.0, 1 - (-t) / cfg.book_life_months)
                hs.add_cohort(int(t), h, cfg.opex_usd_per_gpu_hour / perf, cost, book)
            start = cfg.target_utilization * hs.installed
            hs.demand_history = [
                start * g ** (k - cfg.forecast_window_months) for k in range(cfg.forecast_window_months + 1)
            ]
            hs.utilization = cfg.target_utilization
            hs.realised_price = self.spot_price
            self.hyperscalers.append(hs)
            backlog = (
                self.config.gpu_market.normal_backlog_months * self.vendor.production_h100e_per_month * s
            )
            for lag in (3, 2, 1):
                self.vendor.place(hs.unique_id, backlog / 3, -lag)

    def _build_architects(self) -> None:
        cfg = self.config.architects
        n_labs = len(self.labs)
        rng = self.streams["setup"]
        for _ in range(cfg.count):
            independent = rng.random() < cfg.independent_share
            lab = None if independent else int(rng.choice(n_labs, p=self.lab_shares0))
            ModelArchitect(self, cfg, lab, float(rng.lognormal(-0.5, 1.0)))

    def _initial_contracts(self) -> None:
        """Reservations already in force at month 0, with staggered expiries."""
        cfg = self.config.labs
        need = self._inference_need()
        hosts = np.array([hs.installed for hs in self.hyperscalers])
        for lab in self.labs:
            amount = lab.reservation_target(need[lab.index])
            ends = self.streams["setup"].integers(1, cfg.contract_months + 1, size=hosts.size)
            self.contracts.add(
                lab.index, np.arange(hosts.size), amount * hosts / hosts.sum(), self.spot_price, ends
            )

    # ------------------------------------------------------------------ measures
    @property
    def architects(self):
        """The architects as an AgentSet (an empty list when the scenario has none)."""
        return self.agents_by_type.get(ModelArchitect, [])

    @property
    def lab_prices(self) -> np.ndarray:
        return np.array([lab.price for lab in self.labs])

    @property
    def alive(self) -> np.ndarray:
        return np.array([lab.alive for lab in self.labs])

    @property
    def total_installed(self) -> float:
        return sum(hs.installed for hs in self.hyperscalers)

    def _inference_need(self) -> np.ndarray:
        """H100e-months per lab to serve all desired tokens this month."""
        tokens = self.users.desired_tokens_by_lab(len(self.labs))
        for lab in self.labs:
            lab.tokens_demanded = float(tokens[lab.index])
        tpm = np.array([lab.tokens_per_h100e_month for lab in self.labs])
        return tokens / tpm

    # ------------------------------------------------------------------ the month
    def step(self) -> None:
        t = self.steps
        self.ledger.new_step()
        self._efficiency(t)
        self._service(t)
        need = self._inference_need()
        self._contracts(t, need)
        available = self.total_installed  # capacity in service this month
        clearing, reserved_used, reserved_cohorts, served = self._compute(need)
        self._money(t, clearing, served)
        self._fleet(t, clearing, reserved_cohorts)
        self._observe(clearing, used=reserved_used + float(clearing.dispatched.sum()), available=available)
        self.datacollector.collect(self)
        if t >= self.config.run.steps:
            self.running = False

    def trigger_discovery(
        self, gain: float, is_open: bool, lab: int | None = 0, cause: str = "manual"
    ) -> None:
        """Inject a discovery now (scenario scripts, the viz 'Discover now' control).

        `lab=None` is an independent researcher, who always publishes.
        """
        if lab is not None and not (0 <= lab < len(self.labs) and self.labs[lab].alive):
            raise ValueError(f"lab {lab} is not a living lab of this model")
        is_open = is_open or lab is None
        architects = [a for a in self.architects if a.lab == lab]
        if architects:
            architects[0].discover(gain, is_open, cause)
        else:
            self.diffusion.discover(lab, None, gain, is_open, cause)

    def _efficiency(self, t: int) -> None:
        cfg = self.config
        self.background_efficiency = cfg.efficiency.background_progress_per_year ** (t / 12)
        d = cfg.discovery
        if t == d.jump_month and d.jump_size > 1 and d.lab < len(self.labs):
            self.trigger_discovery(d.jump_size, d.open_publication, d.lab, cause="scripted")
        if self.architects:
            self.architects.shuffle_do("step")
        self.diffusion.step()

    def _service(self, t: int) -> None:
        cfg = self.config.users
        alive = self.alive
        for lab in self.labs:
            if lab.alive:
                lab.set_price(self.mean_choice_sensitivity, cfg.demand_elasticity)
        prices = self.lab_prices
        quality = np.array([lab.quality for lab in self.labs])
        if alive.any():
            self.users.choose_labs(prices, quality, alive)
        shares = self.users.segments_by_lab(len(self.labs))
        market_price = float((prices * shares).sum() / shares.sum())
        self.users.adopt(market_price)
        self.users.adjust_usage(prices, t)

    def _contracts(self, t: int, need: np.ndarray) -> None:
        """Expire old reservations; sign new ones where labs want more and hosts have room."""
        cfg = self.config.labs
        self.contracts.expire(t)
        held = self.contracts.by_lab(len(self.labs))
        free = np.array([hs.installed for hs in self.hyperscalers]) - self.contracts.by_host(
            len(self.hyperscalers)
        )
        free = np.maximum(free, 0.0)
        signed: list[np.ndarray] = []  # per lab: H100e signed with each host
        for lab in self.labs:
            want = lab.reservation_target(need[lab.index]) - held[lab.index] if lab.alive else 0.0
            room = free.sum()
            split = min(want, room) * free / room if want > 0 and room > 0 else np.zeros_like(free)
            signed.append(split)
            free -= split
        amounts = np.array(signed)
        labs, hosts = np.nonzero(amounts > 0)
        price = self.reference_price * (1 + cfg.term_premium)
        self.contracts.add(labs, hosts, amounts[labs, hosts], price, t + cfg.contract_months - 1)

    def _compute(self, need: np.ndarray):
        """Use reserved capacity first, then clear the spot market for the rest."""
        n_labs, n_hosts = len(self.labs), len(self.hyperscalers)
        installed = np.array([hs.installed for hs in self.hyperscalers])
        committed = self.contracts.by_host(n_hosts)
        # hosts short of committed capacity (failures) deliver pro rata
        delivery = np.divide(installed, committed, out=np.ones(n_hosts), where=committed > installed)
        held = np.bincount(
            self.contracts.lab, weights=self.contracts.h100e * delivery[self.contracts.host], minlength=n_labs
        )
        res_cost = np.bincount(
            self.contracts.lab,
            weights=self.contracts.h100e * self.contracts.price * HOURS_PER_MONTH,
            minlength=n_labs,
        )
        alive = self.alive
        budget = np.array([lab.training_budget for lab in self.labs]) * alive
        inf_res = np.minimum(need, held)
        leftover = held - inf_res
        # labs train on reserved capacity they hold anyway; only a positive budget uses it
        train_res = np.where(budget > 0, leftover, 0.0)
        unit_cost = np.divide(res_cost, held * HOURS_PER_MONTH, out=np.zeros(n_labs), where=held > 0)
        spot_budget = np.maximum(budget - train_res * unit_cost * HOURS_PER_MONTH, 0.0)
        reserved_cohorts, asks, caps, owner = [], [], [], []
        used_share = np.divide(inf_res + train_res, held, out=np.zeros(n_labs), where=held > 0)
        host_used = np.bincount(
            self.contracts.host,
            weights=self.contracts.h100e * delivery[self.contracts.host] * used_share[self.contracts.lab],
            minlength=n_hosts,
        )
        for j, hs in enumerate(self.hyperscalers):
            reserved, free = hs.split_capacity(min(committed[j], installed[j]))
            total = reserved.sum()
            reserved_cohorts.append(reserved * (host_used[j] / total) if total > 0 else reserved * 0.0)
            asks.append(hs.ask())
            caps.append(free)
            owner.append(np.full(free.size, j))
        clearing = clear_spot(
            np.concatenate(asks),
            np.concatenate(caps),
            np.maximum(need - inf_res, 0.0) * alive,
            spot_budget,
            self.config.compute_market.max_price_usd_per_gpu_hour,
            self.spot_price,
            self.config.compute_market.max_price_change_per_month,
            self.reference_price,
            self.config.compute_market.training_elasticity_below_reference,
        )
        self._spot_owner = np.concatenate(owner)
        served = {
            "inference": inf_res + clearing.inference,
            "training": train_res + clearing.training,
            "spot_h100e": clearing.inference + clearing.training,
        }
        return clearing, float(host_used.sum()), reserved_cohorts, served

    def _money(self, t: int, clearing, served: dict[str, np.ndarray]) -> None:
        """Users pay labs for served tokens; labs pay for compute, raise money or fail."""
        n_hosts = len(self.hyperscalers)
        spot_by_host = np.bincount(self._spot_owner, weights=clearing.dispatched, minlength=n_hosts)
        spot_total = spot_by_host.sum()
        host_share = spot_by_host / spot_total if spot_total > 0 else np.zeros(n_hosts)
        self.spot_price = clearing.price
        a = 1.0 / self.config.compute_market.price_smoothing_months
        self.reference_price += a * (clearing.price - self.reference_price)
        self._host_revenue = np.zeros(n_hosts)
        reserved_bills = self.contracts.bills(len(self.labs), n_hosts)  # USD, lab x host
        for lab in self.labs:
            if not lab.alive:
                lab.revenue = lab.tokens_served = lab.inference_h100e = lab.training_h100e = 0.0
                lab.compute_spend = 0.0
                continue
            i = lab.index
            capacity_tokens = served["inference"][i] * lab.tokens_per_h100e_month
            lab.tokens_served = min(lab.tokens_demanded, capacity_tokens)
            lab.inference_h100e = served["inference"][i]
            lab.training_h100e = served["training"][i]
            lab.training_stock += served["training"][i] * lab.efficiency
            revenue = self.ledger.transfer("end_users", lab, lab.tokens_served * lab.price, "ai_spending")
            lab.record_revenue(revenue)
            spot_bill = served["spot_h100e"][i] * clearing.price * HOURS_PER_MONTH
            bills = reserved_bills[i] + spot_bill * host_share
            used = served["inference"][i] + served["training"][i]
            self._pay_or_fail(t, lab, bills, served["inference"][i] / used if used > 0 else 0.0)
            lab.compute_price = (
                lab.compute_spend / (used * HOURS_PER_MONTH) if used > 0 else self.reference_price
            )
        demanded = np.array([lab.tokens_demanded if lab.alive else 0.0 for lab in self.labs])
        for lab in self.labs:
            lab.share = float(demanded[lab.index] / demanded.sum()) if demanded.sum() > 0 else 0.0

    def _pay_or_fail(self, t: int, lab: AILab, bills: np.ndarray, inference_share: float) -> None:
        total = float(bills.sum())
        raise_usd = lab.funding_round()
        if raise_usd > 0:
            self.ledger.transfer("investors", lab, raise_usd, "funding")
            self.events.add(t, lab.unique_id, "lab", "funding", "revenue growth", raise_usd)
        paid_share = min(1.0, lab.cash / total) if total > 0 else 1.0
        payments = bills * paid_share
        last = int(np.flatnonzero(payments)[-1]) if payments.any() else -1
        for j, amount in enumerate(payments):
            if paid_share < 1.0 and j == last:  # a failing lab pays out exactly the cash it has
                amount = max(lab.cash, 0.0)
            self.ledger.transfer(lab, self.hyperscalers[j], float(amount), "compute_rent")
            self._host_revenue[j] += float(amount)
        lab.record_costs(total * paid_share, total * paid_share * inference_share)
        if paid_share < 1.0:
            self._bankrupt(t, lab, total * (1 - paid_share))

    def _bankrupt(self, t: int, lab: AILab, unpaid: float) -> None:
        lab.alive = False
        lab.unpaid = unpaid
        self.bankruptcies += 1
        released = self.contracts.terminate_lab(lab.index)
        self.ledger.transfer(lab, "investors", max(lab.cash, 0.0), "liquidation")
        self.events.add(
            t,
            lab.unique_id,
            "lab",
            "bankruptcy",
            "unpaid compute bill",
            unpaid,
            f"released={released:.0f} H100e",
        )
        alive = [other.index for other in self.labs if other.alive]
        for arch in self.architects:
            if arch.lab == lab.index:
                arch.lab = int(self.streams["exits"].choice(alive)) if alive else None

    def _fleet(self, t: int, clearing, reserved_cohorts: list[np.ndarray]) -> None:
        """Hyperscalers run, age and finance their fleets, then plan orders."""
        cfg = self.config.hyperscalers
        offset = 0
        core = cfg.core_cash_flow_usd_per_month * cfg.core_cash_flow_growth_per_year ** (t / 12)
        monthly_rate = (1 + cfg.discount_rate_per_year) ** (1 / 12) - 1
        unmet = max(clearing.demand - float(clearing.dispatched.sum()), 0.0)
        installed = np.array([hs.installed for hs in self.hyperscalers])
        self._fleet_flows = {"failed": 0.0, "retired": 0.0, "delivered": 0.0}
        for j, hs in enumerate(self.hyperscalers):
            n = hs.h100e.size
            used = reserved_cohorts[j] + clearing.dispatched[offset : offset + n]
            offset += n
            hs.operate(used, self._host_revenue[j])
            self.ledger.transfer(hs, "operations", hs.opex_paid, "opex")
            self.ledger.transfer(
                "core_business",
                hs,
                core * cfg.capex_share_of_core_cash_flow * hs.capital_share,
                "capital_allocation",
            )
            interest = self.ledger.transfer(
                hs, "lenders", hs.debt * cfg.interest_rate_per_year / 12, "interest"
            )
            hs.demand_history.append(hs.used + unmet * installed[j] / installed.sum())
            del hs.demand_history[: -cfg.forecast_window_months - 1]
            dep = hs.depreciate()
            failed, failed_book = hs.fail()
            retired, retired_book = hs.retire(t, self.reference_price)
            impaired = hs.impair(t, hs.realised_price, hs.utilization, monthly_rate) if t % 3 == 0 else 0.0
            hs.write_downs = failed_book + retired_book + impaired
            if retired > 0:
                self.events.add(
                    t,
                    hs.unique_id,
                    "hyperscaler",
                    "retirement",
                    "rent below operating cost or end of life",
                    retired,
                )
            if impaired > 0:
                self.events.add(
                    t, hs.unique_id, "hyperscaler", "write_down", "rental value below book value", impaired
                )
            hs.profit = hs.revenue - hs.opex_paid - dep - hs.write_downs - interest
            self._fleet_flows["failed"] += failed
            self._fleet_flows["retired"] += retired
        self._deliveries(t)
        self._plan_orders(t)
        for hs in self.hyperscalers:
            self._finance(hs)

    def _deliveries(self, t: int) -> None:
        by_id = {hs.unique_id: hs for hs in self.hyperscalers}
        for hs in self.hyperscalers:
            hs.deliveries = hs.capex = 0.0
        perf = self.vendor.hardware_performance(t)
        opex = self.config.hyperscalers.opex_usd_per_gpu_hour / perf
        for part in self.vendor.ship(t):
            hs = by_id[part.buyer]
            cost = part.h100e * part.price_usd_per_h100e
            self.ledger.transfer(hs, "gpu_vendor", cost, "capex")
            hs.add_cohort(t, part.h100e, opex, cost, cost)
            hs.deliveries += part.h100e
            hs.capex += cost
        self._fleet_flows["delivered"] = sum(hs.deliveries for hs in self.hyperscalers)

    def _plan_orders(self, t: int) -> None:
        cfg = self.config.hyperscalers
        lead = self.vendor.lead_time_months()
        plans = np.array([hs.planned_growth for hs in self.hyperscalers])
        caps = np.array([hs.installed for hs in self.hyperscalers])
        for j, hs in enumerate(self.hyperscalers):
            others = np.delete(np.arange(len(plans)), j)
            rivals = (
                float(np.average(plans[others], weights=caps[others]))
                if others.size and caps[others].sum() > 0
                else 1.0
            )
            pipeline, pipeline_value = self.vendor.pending(hs.unique_id)
            gap = hs.capacity_gap(lead, pipeline, max(rivals, 1e-6)) / cfg.order_adjustment_months
            hs.orders = hs.cancellations = 0.0
            if gap > 0:
                price = self.vendor.price_usd_per_h100e(t)
                amount = min(gap, hs.capex_room(pipeline_value) / price)
                if amount > 0:
                    self.vendor.place(hs.unique_id, amount, t)
                    hs.orders = amount
                    self.events.add(
                        t, hs.unique_id, "hyperscaler", "order", "forecast above capacity", amount
                    )
            elif gap < 0 and pipeline > 0:
                cancelled = self.vendor.cancel(hs.unique_id, min(-gap, pipeline))
                amount = sum(o.h100e for o in cancelled)
                penalty = sum(o.h100e * o.price_usd_per_h100e for o in cancelled) * cfg.cancellation_penalty
                self.ledger.transfer(hs, "gpu_vendor", penalty, "cancellation_penalty")
                hs.cancellations = amount
                self.events.add(
                    t, hs.unique_id, "hyperscaler", "cancellation", "forecast below capacity", amount
                )

    def _finance(self, hs: Hyperscaler) -> None:
        """Borrow to keep cash non-negative; repay from surplus cash."""
        if hs.cash < 0:
            hs.debt += self.ledger.transfer("lenders", hs, -hs.cash, "borrowing")
        elif hs.debt > 0:
            repay = min(hs.debt, 0.1 * hs.cash)
            self.ledger.transfer(hs, "lenders", repay, "repayment")
            hs.debt -= repay

    # ------------------------------------------------------------------ observation
    def _observe(self, clearing, used: float, available: float) -> None:
        """Model-level measures for the data collector and the bubble indicators.

        Utilization is use over the capacity in service during the month; installed capacity
        is the stock at the month's end (after deliveries, failures and retirements).
        """
        installed = self.total_installed
        labs = [lab for lab in self.labs if lab.alive]
        tokens = sum(lab.tokens_served for lab in labs)
        spending = self.ledger.flow("ai_spending")
        demand = used if clearing is None else used - float(clearing.dispatched.sum()) + clearing.demand
        backlog = self.vendor.backlog_h100e
        book = sum(hs.book_value for hs in self.hyperscalers)
        utilization = min(used / available, 1.0) if available > 0 else 0.0
        capex = self.ledger.flow("capex")
        m = {
            "year": self.config.run.start_year + self.steps / 12,
            "installed_capacity_h100e": installed,
            "compute_demand_h100e": demand,
            "compute_used_h100e": used,
            "unmet_compute_h100e": max(demand - used, 0.0),
            "utilization": utilization,
            "spot_price_usd_per_gpu_hour": self.spot_price,
            "reserved_price_usd_per_gpu_hour": self.contracts.mean_price(fallback=self.spot_price),
            "capex_usd": capex,
            "gpu_orders_h100e": sum(hs.orders for hs in self.hyperscalers),
            "gpu_cancellations_h100e": sum(hs.cancellations for hs in self.hyperscalers),
            "gpu_deliveries_h100e": sum(hs.deliveries for hs in self.hyperscalers),
            "gpu_failed_h100e": self._fleet_flows["failed"] if clearing is not None else 0.0,
            "gpu_retired_h100e": self._fleet_flows["retired"] if clearing is not None else 0.0,
            "gpu_backlog_h100e": backlog,
            "gpu_production_h100e_per_month": self.vendor.production_h100e_per_month,
            "gpu_price_usd_per_h100e": self.vendor.price_usd_per_h100e(self.steps),
            "gpu_lead_time_months": self.vendor.lead_time_months(),
            "token_price_usd_per_mtok": self._token_price(labs, spending, tokens),
            "tokens_served": tokens,
            "tokens_demanded": sum(lab.tokens_demanded for lab in labs),
            "ai_spending_usd": spending,
            "lab_funding_usd": self.ledger.flow("funding"),
            "compute_rent_usd": self.ledger.flow("compute_rent"),
            "frontier_efficiency": self.background_efficiency * self.diffusion.frontier_gain,
            "mean_adopted_efficiency": self._adopted_efficiency(labs),
            "write_downs_usd": sum(hs.write_downs for hs in self.hyperscalers),
            "book_value_usd": book,
            "stranded_book_value_usd": book * (1 - utilization),
            "hyperscaler_profit_usd": sum(hs.profit for hs in self.hyperscalers),
            "lab_profit_usd": sum(lab.revenue - lab.compute_spend for lab in labs),
            "hyperscaler_cash_usd": sum(hs.cash for hs in self.hyperscalers),
            "hyperscaler_debt_usd": sum(hs.debt for hs in self.hyperscalers),
            "lab_cash_usd": sum(lab.cash for lab in self.labs),
            "bankruptcies": self.bankruptcies,
            "labs_alive": len(labs),
            "adoption_share": self.users.adoption_share,
        }
        m.update(self.bubble.update(installed, demand, utilization, capex))
        self.metrics = m

    def _adopted_efficiency(self, labs: list[AILab]) -> float:
        """Share-weighted efficiency of the living labs (last value when none is left)."""
        if not labs:
            return self.metrics.get("mean_adopted_efficiency", 1.0)
        efficiency = np.array([lab.efficiency for lab in labs])
        shares = np.array([lab.share for lab in labs])
        return float(np.average(efficiency, weights=shares) if shares.sum() > 0 else efficiency.mean())

    def _token_price(self, labs: list[AILab], spending: float, tokens: float) -> float:
        """USD per million tokens served; the quoted mean when nothing is served, and the
        last value when no lab is left to quote one."""
        if tokens > 0:
            return 1e6 * spending / tokens
        if labs:
            return 1e6 * float(np.mean([lab.price for lab in labs]))
        return self.metrics.get("token_price_usd_per_mtok", 0.0)

    # ------------------------------------------------------------------ outputs
    def model_frame(self) -> pd.DataFrame:
        df = self.datacollector.get_model_vars_dataframe()
        df.index = pd.RangeIndex(len(df), name="step")
        return df

    def agent_frame(self) -> pd.DataFrame:
        frames = []
        for cls in (Hyperscaler, AILab, ModelArchitect):
            df = self.datacollector.get_agenttype_vars_dataframe(cls).reset_index()
            df.insert(2, "agent_type", cls.__name__)
            frames.append(df)
        out = pd.concat(frames, ignore_index=True).rename(columns={"Step": "step", "AgentID": "agent_id"})
        return out.astype({"step": "int64", "agent_id": "int64"})

    def events_frame(self) -> pd.DataFrame:
        return self.events.frame()

    def summary(self) -> dict[str, Any]:
        return run_summary(self)
