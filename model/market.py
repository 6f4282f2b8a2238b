"""AIMarketModel: the AI compute market as a Mesa model.

One step is one month. The step reads as the schedule of the market:

1. efficiency   background progress; architects may discover; discoveries diffuse to labs
2. service      labs price tokens; users choose labs, adopt and adjust usage
3. contracts    reservations expire; labs reserve part of their needs with hyperscalers
4. compute      reserved capacity is used first; the rest clears in the spot market
5. money        users pay labs; labs ask investors for rounds and the investor pool grants
                them; labs pay hyperscalers or go bankrupt
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

from aibubble import finance
from aibubble.agents import AILab, Hyperscaler, ModelArchitect, UserPopulation
from aibubble.agents.hyperscaler import rivals_growth
from aibubble.agents.neocloud import Neocloud
from aibubble.compute_market import Allocation, Offer, allocate, training_demand
from aibubble.config import Config, load_config, with_headline
from aibubble.contracts import ContractBook, forward_rent, split_reservations
from aibubble.efficiency import Diffusion
from aibubble.episodes import episode_events, find_episodes
from aibubble.events import EventLog
from aibubble.gpu_market import GpuVendor
from aibubble.investors import InvestorPool
from aibubble.ledger import Ledger
from aibubble.measures import DAYS_PER_MONTH, HOURS_PER_MONTH, SERIES
from aibubble.metrics import BubbleTracker, run_summary
from aibubble.vintages import VintageBook

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
NEOCLOUD_REPORTERS = HYPERSCALER_REPORTERS | {"defaults": "defaults"}
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


FLEET_HISTORY_MONTHS = 24  # the initial fleet was delivered over the two years before month 0

# appended, never inserted: a new stream leaves every earlier stream's draws unchanged
STREAMS = ("setup", "users", "architects", "exits", "funding")


def _streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent random streams per purpose, all derived from the run's seed.

    A counterfactual run (the same seed without a discovery) then draws exactly the same
    numbers for users and architects: common random numbers. The discovery's own draws
    (imitation) come from a stream keyed by the discovery itself (see efficiency.py). The labs'
    funding calendars are drawn once, at set-up, from their own stream.
    """
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(STREAMS, children, strict=True)}


def _funding_calendar(
    rng: np.random.Generator, n: int, interval: int, spread: float
) -> tuple[np.ndarray, np.ndarray]:
    """Each lab's own cadence of rounds (months, uniform within +-spread of the interval) and
    the step of its last round before the run (uniform over its cadence), so that labs are not
    tied to one calendar of rounds."""
    u = rng.random((2, n))
    cadence = np.maximum(np.rint(interval * (1.0 + spread * (2.0 * u[0] - 1.0))), 1).astype(int)
    last_round = -1 - np.floor(u[1] * cadence).astype(int)
    return cadence, last_round


def _cash_by_cycle(shares: np.ndarray, cadence: np.ndarray, last_round: np.ndarray) -> np.ndarray:
    """Each lab's fraction of the labs' month-0 cash: its size times the part of its funding
    cycle still ahead of it (a lab that raised last month holds most of its round, one about
    to raise little of it), so labs do not start with the same months of cash and run short
    together. Sums to 1."""
    ahead = (cadence + last_round + 1) / cadence  # last_round is -1 .. -cadence: 1 .. 1/cadence
    weight = shares * ahead
    return weight / weight.sum()


def _shares(rng: np.random.Generator, n: int, sigma: float) -> np.ndarray:
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
        # log decline of the rent a month that new reservations are priced on (ODD 7.2): the
        # hardware decline of finance.rent_decline_per_month, or none on today's rent
        labs = cfg.labs
        years = cfg.efficiency.hardware_doubling_years
        self.contract_rent_decline = np.log(2.0) / (12.0 * years) if labs.contracts_on_expected_rent else 0.0
        self.diffusion = Diffusion(self)
        self.background_efficiency = 1.0
        self.spot_price = cfg.compute_market.initial_price_usd_per_gpu_hour
        self.reference_price = self.spot_price  # smoothed spot, USD per H100e-hour
        self.legacy_price = self.spot_price  # spot price of GPUs too old to train on
        self.trainable_capacity = 0.0  # H100e recent enough for frontier training (set by _offers)
        self.vendor = GpuVendor(cfg.gpu_market, cfg.efficiency, cfg.gpu_market.production_h100e_per_month)
        self.investors = InvestorPool(cfg.investors)
        self.vintages = VintageBook(-FLEET_HISTORY_MONTHS, cfg.run.steps)
        self._build_labs()
        self._build_users()
        self._build_hyperscalers()
        self._build_architects()
        self._initial_contracts()
        self.bubble = BubbleTracker(cfg.bubble)
        self.metrics: dict[str, float] = {}
        installed = self.total_installed
        used = installed * cfg.hyperscalers.target_utilization
        inference = min(float(self._inference_need().sum()), used)
        training = used - inference  # >= 0: inference is capped at what is used
        # effective compute the market trains on per month, smoothed: what users get from AI
        self.capability_flow0 = self.capability_flow = max(training, 1.0)
        training_usd = training * self.spot_price * HOURS_PER_MONTH
        for lab, share in zip(self.labs, self.lab_shares0, strict=True):
            lab.open_training(training_usd * float(share))
        self._offers()  # month 0's trainable capacity
        self._observe(None, used=used, available=installed, inference=inference, training=training)
        self.datacollector = mesa.DataCollector(
            model_reporters={name: (lambda m, name=name: m.metrics[name]) for name in SERIES},
            agenttype_reporters={
                Hyperscaler: HYPERSCALER_REPORTERS,
                Neocloud: NEOCLOUD_REPORTERS,
                AILab: LAB_REPORTERS,
                ModelArchitect: ARCHITECT_REPORTERS,
            },
        )
        self.datacollector.collect(self)

    # ------------------------------------------------------------------ set-up
    def _build_labs(self) -> None:
        cfg = self.config.labs
        self.lab_shares0 = _shares(self.streams["setup"], cfg.count, cfg.size_dispersion)
        p0 = self.spot_price
        cadence, last_round = _funding_calendar(
            self.streams["funding"], cfg.count, cfg.funding_interval_months, cfg.funding_interval_spread
        )
        # training stock in effective H100e-months: only ratios between labs matter (quality)
        self.labs: list[AILab] = [
            AILab(
                self,
                cfg,
                i,
                cash=0.0,
                training_stock=cfg.initial_training_stock * s,
                compute_price=p0,
                revenue=0.0,
                share=float(s),
                funding_interval=int(cadence[i]),
                last_round=int(last_round[i]),
            )
            for i, s in enumerate(self.lab_shares0)
        ]
        cash = _cash_by_cycle(self.lab_shares0, cadence, last_round) * cfg.initial_cash_usd
        for lab, c in zip(self.labs, cash, strict=True):
            self.ledger.transfer("investors", lab, float(c), "initial_funding")
            lab.set_price(self.mean_choice_sensitivity, self.pricing_elasticity, self.reference_price)

    @property
    def pricing_elasticity(self) -> float:
        """Users' usage elasticity at the labs' pricing horizon (the long-run one without)."""
        return self.usage_elasticity(self.config.labs.pricing_horizon_months)

    def usage_elasticity(self, horizon: float | None) -> float:
        """Users' usage elasticity `horizon` months on: with partial adjustment lambda, a price
        change has moved usage by eps (1 - (1 - lambda)^H) of its long-run response after H
        months (the long-run eps when `horizon` is None)."""
        users = self.config.users
        if horizon is None:
            return users.demand_elasticity
        return users.demand_elasticity * (1.0 - (1.0 - users.adjustment_per_month) ** horizon)

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
            demanded = float(tokens[lab.index])
            lab.open_books(demanded * lab.price, growth, demanded, self.spot_price)

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
        """The builders: hyperscalers (funded by their core businesses) and neoclouds
        (funded by GPU-backed debt), sharing the initial fleet and the vendor's backlog."""
        cfg = self.config.hyperscalers
        neo = self.config.neoclouds
        market = self.config.gpu_market
        shares = _shares(self.streams["setup"], cfg.count, cfg.size_dispersion)
        neo_share = neo.initial_capacity_share if neo.count else 0.0
        fleet_shares = np.concatenate(
            [shares * (1 - neo_share), np.full(neo.count, neo_share / max(neo.count, 1))]
        )
        g = cfg.initial_growth_per_year ** (1 / 12)
        history = np.arange(-FLEET_HISTORY_MONTHS, 0)
        weights = g**history
        monthly = cfg.initial_capacity_h100e * weights / weights.sum()
        performance = np.array([self.vendor.hardware_performance(float(t)) for t in history])
        spread = market.initial_order_spread_months
        self.hyperscalers: list[Hyperscaler] = []
        for j, s in enumerate(fleet_shares):
            if j < cfg.count:
                hs = Hyperscaler(self, cfg, 0.0, float(shares[j]))
                self.ledger.transfer("core_business", hs, cfg.initial_cash_usd * shares[j], "initial_funding")
            else:
                hs = Neocloud(self, cfg, neo, 0.0)
                self.ledger.transfer("investors", hs, neo.initial_cash_usd / neo.count, "initial_funding")
            hs.install_initial_fleet(
                history, monthly * s, performance, market.price_usd_per_h100e, g, self.spot_price
            )
            if isinstance(hs, Neocloud):
                hs.owe_for_initial_fleet()
            self.hyperscalers.append(hs)
            backlog = market.normal_backlog_months * self.vendor.production_h100e_per_month * s
            for lag in range(spread, 0, -1):
                self.vendor.place(hs.unique_id, backlog / spread, -lag, cfg.firm_order_share)

    def _build_architects(self) -> None:
        cfg = self.config.architects
        n_labs = len(self.labs)
        rng = self.streams["setup"]
        sd = cfg.productivity_dispersion
        for _ in range(cfg.count):
            independent = rng.random() < cfg.independent_share
            lab = None if independent else int(rng.choice(n_labs, p=self.lab_shares0))
            ModelArchitect(self, cfg, lab, float(rng.lognormal(-(sd**2) / 2, sd)))

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
    def bankruptcies(self) -> int:
        """Labs that have gone bankrupt so far (the only way a lab leaves the market)."""
        return sum(not lab.alive for lab in self.labs)

    @property
    def installed_by_host(self) -> np.ndarray:
        return np.array([hs.installed for hs in self.hyperscalers])

    @property
    def total_installed(self) -> float:
        return sum(hs.installed for hs in self.hyperscalers)

    def _inference_need(self) -> np.ndarray:
        """H100e-months per lab to serve all desired tokens this month."""
        tokens = self.users.desired_tokens_by_lab(len(self.labs))
        for lab in self.labs:
            lab.observe_demand(float(tokens[lab.index]))
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
        rent = self.reference_price / self.config.compute_market.initial_price_usd_per_gpu_hour
        budgets = np.array([lab.plan_training(rent) if lab.alive else 0.0 for lab in self.labs])
        allocation = self._compute(need, budgets)
        self._train(allocation.training)
        host_revenue = self._money(t, allocation)
        self._fleet(t, allocation, host_revenue, self._wanted_capacity(t, need, budgets))
        self._observe(
            allocation.clearing,
            used=allocation.used,
            available=available,
            inference=float(allocation.inference.sum()),
            training=float(allocation.training.sum()),
        )
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
        """Background progress; the scripted discovery; architects research; labs adopt."""
        cfg = self.config
        self.background_efficiency = cfg.efficiency.background_progress_per_year ** (t / 12)
        d = cfg.discovery
        if t == d.jump_month and d.jump_size > 1:
            self.trigger_discovery(d.jump_size, d.open_publication, self._scripted_lab(t), cause="scripted")
        if self.architects:
            self.architects.shuffle_do("step")
        self.diffusion.step()

    def _scripted_lab(self, t: int) -> int | None:
        """The lab that makes the scripted discovery: the configured one, or, if it has gone
        bankrupt, the largest living lab (its researchers moved to living labs); an
        independent researcher when no lab is left. The event log says which."""
        wanted = self.config.discovery.lab
        if self.labs[wanted].alive:
            return wanted
        living = [lab for lab in self.labs if lab.alive]
        lab = max(living, key=lambda other: other.share).index if living else None
        maker = f"lab {lab}" if lab is not None else "an independent researcher"
        agent = self.labs[lab].unique_id if lab is not None else -1
        self.events.add(
            t, agent, "lab", "scripted_reassigned", f"lab {wanted} is bankrupt", 0.0, f"made by {maker}"
        )
        return lab

    def _service(self, t: int) -> None:
        """Labs price tokens; users choose labs, adopt and adjust their usage."""
        alive = self.alive
        sensitivity, elasticity = self.mean_choice_sensitivity, self.pricing_elasticity
        for lab in self.labs:
            if lab.alive:
                lab.set_price(sensitivity, elasticity, self.reference_price)
        prices = self.lab_prices
        quality = np.array([lab.quality for lab in self.labs])
        if alive.any():
            self.users.choose_labs(prices, quality, alive)
        shares = self.users.segments_by_lab(len(self.labs))
        market_price = float((prices * shares).sum() / shares.sum())
        self.users.adopt(market_price)
        self.users.adjust_usage(prices, t, self.log_capability)

    def _train(self, training_h100e: np.ndarray) -> None:
        """Smooth the effective compute (GPU-months x each lab's efficiency) trained on this
        month over users' capability lag: next month's usage reads it."""
        effective = sum(float(training_h100e[lab.index]) * lab.efficiency for lab in self.labs if lab.alive)
        a = 1.0 / self.config.users.capability_lag_months
        self.capability_flow += a * (max(effective, 1.0) - self.capability_flow)

    @property
    def log_capability(self) -> float:
        """Log of the smoothed effective training compute relative to month 0."""
        return float(np.log(self.capability_flow / self.capability_flow0))

    def _contracts(self, t: int, need: np.ndarray) -> None:
        """Expire old reservations; labs reserve more where they want it and hosts have room."""
        cfg = self.config.labs
        self.contracts.expire(t)
        held = self.contracts.by_lab(len(self.labs))
        free = np.maximum(self.installed_by_host - self.contracts.by_host(len(self.hyperscalers)), 0.0)
        wanted = np.array(
            [
                lab.reservation_target(need[lab.index]) - held[lab.index] if lab.alive else 0.0
                for lab in self.labs
            ]
        )
        rent = forward_rent(self.reference_price, self.contract_rent_decline, cfg.contract_months)
        price = rent * (1 + cfg.term_premium)
        self.contracts.sign(split_reservations(wanted, free), price, t + cfg.contract_months - 1)

    def _wanted_capacity(self, t: int, need: np.ndarray, budgets: np.ndarray) -> float:
        """H100e the market would rent at the user cost of a new GPU (Jorgenson's desired
        capital): inference at the builders' planned headroom, since users wait for it, plus
        the training the budgets buy at that rent. Token prices pass the rent through, so
        inference wanted at the user cost is today's need times q^eta: q the spot rent at the
        headroom over the user cost, eta users' usage elasticity at the planning horizon."""
        cfg = self.config
        builders = cfg.hyperscalers
        hs = self.hyperscalers[0]  # every builder faces the same vendor price and costs
        opex = builders.opex_usd_per_gpu_hour / self.vendor.hardware_performance(t)
        cost = hs.user_cost(self.vendor.price_usd_per_h100e(t), opex, hs.shell_usd_per_h100e(t))
        inference = float((need * self.alive).sum()) / builders.target_utilization
        if builders.inference_want_at_user_cost and self.reference_price > 0:
            q = hs.tobin_q(self.reference_price, cost)
            inference *= q ** self.usage_elasticity(builders.planning_horizon_months)
        training = training_demand(
            float(budgets.sum()),
            cost,
            self.reference_price,
            cfg.compute_market.training_elasticity_below_reference,
        )
        return inference + float(training)

    def _compute(self, need: np.ndarray, budgets: np.ndarray) -> Allocation:
        """Reserved use first, then the spot market for the rest (one dispatch of the fleet)."""
        offers = self._offers()
        return allocate(
            self.contracts,
            self.installed_by_host,
            offers,
            need,
            budgets,
            self.alive,
            self.config.compute_market,
            self.spot_price,
            self.reference_price,
            self.legacy_price,
        )

    def _offers(self) -> list[Offer]:
        """Every host's offer this month; records the capacity recent enough to train on."""
        since = self._trainable_since()
        offers = [hs.offer(since) for hs in self.hyperscalers]
        self.trainable_capacity = sum(o.trainable for o in offers)
        return offers

    def _trainable_since(self) -> int | None:
        """Cohorts delivered after this step are recent enough for frontier training: within
        the age limit of the newest delivery big enough to be a frontier cluster, so that when
        builders stop buying, labs train on the newest clusters there are (None: no limit)."""
        market = self.config.compute_market
        if market.training_max_age_months is None:
            return None
        born = np.concatenate([hs.born for hs in self.hyperscalers])
        if born.size == 0:
            return self.steps - market.training_max_age_months
        h100e = np.concatenate([hs.h100e for hs in self.hyperscalers])
        first = int(born.min())
        by_month = np.bincount(born - first, weights=h100e)
        clusters = np.flatnonzero(by_month >= market.frontier_cluster_share * h100e.sum())
        newest = first + int(clusters[-1]) if clusters.size else self.steps
        return newest - market.training_max_age_months

    def _money(self, t: int, allocation: Allocation) -> np.ndarray:
        """Users pay labs for served tokens; labs ask for rounds, the investor pool grants
        them; labs pay for compute or fail. Returns each host's rent received (USD)."""
        clearing = allocation.clearing
        self.spot_price = clearing.price
        self.legacy_price = clearing.legacy_price
        a = 1.0 / self.config.compute_market.price_smoothing_months
        self.reference_price += a * (clearing.price - self.reference_price)
        host_revenue = np.zeros(len(self.hyperscalers))
        bills = allocation.bills(self.contracts.bills(len(self.labs), len(self.hyperscalers)))
        living = [lab for lab in self.labs if lab.alive]
        for lab in self.labs:
            if not lab.alive:
                lab.idle()
        for lab in living:
            lab.serve(allocation.inference[lab.index], allocation.training[lab.index])
        requests = np.array([lab.funding_request(t) for lab in living])
        grants = self.investors.grant(t, requests)
        for lab, asked, granted in zip(living, requests, grants, strict=True):
            host_revenue += lab.settle(
                t, float(asked), float(granted), bills[lab.index], self.hyperscalers, self.reference_price
            )
        wholesale = allocation.wholesale()
        for j, k in zip(*np.nonzero(wholesale), strict=True):
            self.ledger.transfer(
                self.hyperscalers[j], self.hyperscalers[k], float(wholesale[j, k]), "wholesale"
            )
        host_revenue += wholesale.sum(axis=0) - wholesale.sum(axis=1)
        demanded = np.array([lab.tokens_demanded if lab.alive else 0.0 for lab in self.labs])
        total = demanded.sum()
        for lab in self.labs:
            lab.observe_share(float(demanded[lab.index] / total) if total > 0 else 0.0)
        return host_revenue

    def _fleet(self, t: int, allocation: Allocation, host_revenue: np.ndarray, wanted: float) -> None:
        """Hyperscalers run, age and finance their fleets, take deliveries, then plan orders.
        `wanted` (H100e) is the capacity the market would rent at the user cost; each builder
        plans for its share of it."""
        cfg = self.config.hyperscalers
        core = cfg.core_cash_flow_usd_per_month * cfg.core_cash_flow_growth_per_year ** (t / 12)
        installed = self.installed_by_host
        total = installed.sum()
        self._fleet_flows = {"failed": 0.0, "retired": 0.0, "delivered": 0.0}
        for j, hs in enumerate(self.hyperscalers):
            failed, retired = hs.run_month(
                t,
                allocation.used_by_cohort[j],
                host_revenue[j],
                core,
                wanted * (installed[j] / total if total > 0 else 1.0 / len(self.hyperscalers)),
                self.reference_price,
            )
            self._fleet_flows["failed"] += failed
            self._fleet_flows["retired"] += retired
        by_id = {hs.unique_id: hs for hs in self.hyperscalers}
        opex = cfg.opex_usd_per_gpu_hour / self.vendor.hardware_performance(t)
        for order in self.vendor.ship(t):
            by_id[order.buyer].take_delivery(t, order, opex)
        self._fleet_flows["delivered"] = sum(hs.deliveries for hs in self.hyperscalers)
        lead = self.vendor.lead_time_months()
        rivals = rivals_growth(
            np.array([hs.planned_growth for hs in self.hyperscalers]), self.installed_by_host
        )
        for j, hs in enumerate(self.hyperscalers):
            hs.plan_orders(t, self.vendor, lead, rivals[j], opex)
        for hs in self.hyperscalers:
            hs.finance()
            hs.close_month()

    # ------------------------------------------------------------------ observation
    def _fleet_power_gw(self) -> float:
        """GW the fleet in service draws at full use: its physical GPUs (H100e over each
        cohort's price-performance) at `power_kw_per_gpu` each, a physical guard; the builders
        keep their fleets' kW as cohorts come, fail and go."""
        return sum(hs.fleet_kw() for hs in self.hyperscalers) / 1e6

    def _observe(self, clearing, used: float, available: float, inference: float, training: float) -> None:
        """Model-level measures (`model.measures.SERIES`) and the glut indicators.

        Installed capacity is the capacity in service during the month, the stock that use and
        utilization are measured against; this month's deliveries, failures and retirements
        show in the next month's row. `inference` and `training` split the compute used.
        """
        labs = [lab for lab in self.labs if lab.alive]
        tokens = sum(lab.tokens_served for lab in labs)
        spending = self.ledger.flow("ai_spending")
        demand = used if clearing is None else used - float(clearing.dispatched.sum()) + clearing.demand
        backlog = self.vendor.backlog_h100e
        book = sum(hs.book_value for hs in self.hyperscalers)
        utilization = min(used / available, 1.0) if available > 0 else 0.0
        capex = self.ledger.flow("capex") + self.ledger.flow("shell_capex")
        built = building = shell_book = 0.0
        for hs in self.hyperscalers:
            built, building, shell_book = (
                built + hs.shells.kw,
                building + hs.shells.building_kw,
                shell_book + hs.shells.assets,
            )
        users = self.config.users
        adopted = self.users.adoption_share * users.potential_users
        demanded = sum(lab.tokens_demanded for lab in labs)
        m = {
            "year": self.config.run.start_year + self.steps / 12,
            "installed_capacity_h100e": available,
            "compute_demand_h100e": demand,
            "compute_used_h100e": used,
            "inference_used_h100e": inference,
            "training_used_h100e": training,
            "unmet_compute_h100e": max(demand - used, 0.0),
            "utilization": utilization,
            "spot_price_usd_per_gpu_hour": self.spot_price,
            "legacy_spot_price_usd_per_gpu_hour": self.legacy_price,
            "trainable_capacity_h100e": self.trainable_capacity,
            "reserved_price_usd_per_gpu_hour": self.contracts.mean_price(fallback=self.spot_price),
            "capex_usd": capex,
            "gpu_orders_h100e": sum(hs.orders for hs in self.hyperscalers),
            "gpu_cancellations_h100e": sum(hs.cancellations for hs in self.hyperscalers),
            "gpu_deliveries_h100e": sum(hs.deliveries for hs in self.hyperscalers),
            "gpu_failed_h100e": self._fleet_flows["failed"] if clearing is not None else 0.0,
            "gpu_retired_h100e": self._fleet_flows["retired"] if clearing is not None else 0.0,
            "gpu_backlog_h100e": backlog,
            "gpu_firm_backlog_h100e": sum(o.firm for o in self.vendor.backlog),
            "gpu_production_h100e_per_month": self.vendor.production_h100e_per_month,
            "gpu_price_usd_per_h100e": self.vendor.price_usd_per_h100e(self.steps),
            "gpu_lead_time_months": self.vendor.lead_time_months(),
            "token_price_usd_per_mtok": self._token_price(labs, spending, tokens),
            **self._tier_prices(labs),
            "tokens_served": tokens,
            "tokens_demanded": demanded,
            "tokens_per_user_day": demanded / adopted / DAYS_PER_MONTH if adopted > 0 else 0.0,
            "ai_spending_usd": spending,
            "ai_spending_share_of_gdp": 12 * spending / users.world_gdp_usd_per_year,
            "fleet_power_gw": self._fleet_power_gw(),
            "shells_gw": built / 1e6,
            "shells_building_gw": building / 1e6,
            "shell_capex_usd": self.ledger.flow("shell_capex"),
            "shell_book_value_usd": shell_book,
            "lab_funding_requested_usd": self.investors.requested,
            "lab_funding_usd": self.ledger.flow("funding"),
            "investor_inflow_usd": self.investors.inflow,
            "investor_capital_available_usd": self.investors.dry_powder,
            "compute_rent_usd": self.ledger.flow("compute_rent"),
            "fleet_opex_usd": self.ledger.flow("opex"),
            "builder_borrowing_usd": self.ledger.flow("borrowing"),
            "lab_commitments_usd": self.contracts.outstanding(self.steps),
            "frontier_efficiency": self.background_efficiency * self.diffusion.frontier_gain,
            "mean_adopted_efficiency": self._adopted_efficiency(labs),
            "training_capability": self.capability_flow / self.capability_flow0,
            "write_downs_usd": sum(hs.write_downs for hs in self.hyperscalers),
            "write_offs_failure_usd": sum(hs.written_off["failure"] for hs in self.hyperscalers),
            "write_offs_retirement_usd": sum(hs.written_off["retirement"] for hs in self.hyperscalers),
            "impairment_usd": sum(hs.written_off["impairment"] for hs in self.hyperscalers),
            "write_offs_default_usd": sum(hs.written_off["default"] for hs in self.hyperscalers),
            "default_losses_usd": sum(hs.default_losses for hs in self.hyperscalers),
            "neocloud_defaults": sum(hs.defaults for hs in self.hyperscalers),
            "book_value_usd": book,
            "stranded_book_value_usd": book * (1 - utilization),
            "hyperscaler_profit_usd": sum(hs.profit for hs in self.hyperscalers),
            "cancellation_penalties_usd": self.ledger.flow("cancellation_penalty"),
            "hyperscaler_roic_per_year": self._roic(sum(hs.invested for hs in self.hyperscalers)),
            "tobin_q": self._tobin_q(),
            "lab_profit_usd": sum(lab.revenue - lab.compute_spend for lab in labs),
            "hyperscaler_cash_usd": sum(hs.cash for hs in self.hyperscalers),
            "hyperscaler_debt_usd": sum(hs.debt for hs in self.hyperscalers),
            "lab_cash_usd": sum(lab.cash for lab in self.labs),
            "bankruptcies": self.bankruptcies,
            "labs_alive": len(labs),
            "adoption_share": self.users.adoption_share,
        }
        m.update(self.bubble.update(available, demand, utilization, capex))
        self.metrics = m

    def _roic(self, invested: float) -> float:
        """Builders' return on invested capital (the GPU fleet and the shells, at book value),
        annualised: profit before interest (NOPAT, taxes aside), to set against the cost of
        capital."""
        if invested <= 0:
            return 0.0
        interest = self.ledger.flow("interest")
        return 12 * (sum(hs.profit for hs in self.hyperscalers) + interest) / invested

    def _tobin_q(self) -> float:
        """Capacity-weighted q of the builders at their last plan (1 at month 0)."""
        installed = self.installed_by_host
        total = installed.sum()
        if total <= 0:
            return 0.0
        return float((np.array([hs.q for hs in self.hyperscalers]) * installed).sum() / total)

    def _adopted_efficiency(self, labs: list[AILab]) -> float:
        """Share-weighted efficiency of the living labs (last value when none is left)."""
        if not labs:
            return self.metrics.get("mean_adopted_efficiency", 1.0)
        efficiency = np.array([lab.efficiency for lab in labs])
        shares = np.array([lab.share for lab in labs])
        total = shares.sum()
        return float((efficiency * shares).sum() / total if total > 0 else efficiency.mean())

    def _tier_prices(self, labs: list[AILab]) -> dict[str, float]:
        """Share-weighted quoted prices of a commodity and a frontier token, USD per million
        (the last values when no lab is left)."""
        names = ("commodity_token_price_usd_per_mtok", "frontier_token_price_usd_per_mtok")
        if not labs:
            return {name: self.metrics.get(name, 0.0) for name in names}
        total = sum(lab.share for lab in labs)
        commodity = frontier = 0.0
        for lab in labs:  # a few labs: plain floats are cheaper than arrays
            weight = lab.share / total if total > 0 else 1 / len(labs)
            c, f = lab.tier_prices()
            commodity += weight * c
            frontier += weight * f
        return {names[0]: 1e6 * commodity, names[1]: 1e6 * frontier}

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
        return self.datacollector.get_model_vars_dataframe().reset_index(drop=True).rename_axis("step")

    def agent_frame(self) -> pd.DataFrame:
        frames = []
        for cls in (Hyperscaler, Neocloud, AILab, ModelArchitect):
            df = self.datacollector.get_agenttype_vars_dataframe(cls).reset_index()
            df.insert(2, "agent_type", cls.__name__)
            frames.append(df)
        out = pd.concat(frames, ignore_index=True).rename(columns={"Step": "step", "AgentID": "agent_id"})
        return out.astype({"step": "int64", "agent_id": "int64"})

    def events_frame(self) -> pd.DataFrame:
        """The event log, with the glut episodes found so far (onset, bubble, burst, end)."""
        return self.events.frame(self.episode_events())

    def episode_events(self, frame: pd.DataFrame | None = None) -> list[tuple]:
        """Event rows of the glut episodes in `frame` (default: this run's model frame so far)."""
        frame = self.model_frame() if frame is None else frame
        return episode_events(find_episodes(frame, self.config.bubble), self.config.bubble)

    def in_service_by_vintage(self) -> np.ndarray:
        return self.vintages.in_service([(hs.born, hs.h100e) for hs in self.hyperscalers])

    def vintage_frame(self) -> pd.DataFrame:
        """Per GPU delivery year: cash record, IRR, NPV, payback and economic life (finance.py)."""
        return finance.vintage_table(
            self.vintages, self.in_service_by_vintage(), self.model_frame(), self.config
        )

    def finance_frame(self) -> pd.DataFrame:
        """Per month: revenue gap, gauges and a new GPU's economics (finance.py)."""
        return finance.finance_frame(self.model_frame(), self.config)

    def summary(self) -> dict[str, Any]:
        frame = self.model_frame()  # once: the events' episode rows are read from it too
        out = run_summary(frame, self.events.frame(self.episode_events(frame)), self.config, self.seed)
        return out | finance.summary(self.vintages, self.in_service_by_vintage(), frame, self.config)
