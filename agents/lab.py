"""AI labs: turn compute into AI services, price them, and buy compute to serve and train.

A lab's efficiency (tokens per H100e-month) is the background algorithmic progress times the
gains of the discoveries it has adopted. Its token price is its compute cost per token times
a markup that competition limits: the Bertrand-Nash markup of a logit market, where a lab
with share s facing choice sensitivity beta and usage elasticity eps has Lerner index
1 / (beta (1 - s) + eps). A lab trains as far as the return pays: effective training compute
raises its revenue, which investors value at a multiple, and it buys compute until the value of
a unit more equals its rent, within what its gross profit and cash allow; `capability_share`
says how much of a fall in the price of effective compute (an efficiency gain, or a cheaper
rent) labs spend on capability (more effective compute) rather than on cost (fewer dollars).
Labs reserve part of their needs on long contracts (take-or-pay), buy the rest spot, ask
investors for a round while revenue grows (the investor pool, `model/investors.py`, decides
how much of it they get), and go bankrupt when they cannot pay a compute bill.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import mesa
import numpy as np

from aibubble.measures import HOURS_PER_MONTH

if TYPE_CHECKING:
    from collections.abc import Sequence

    from aibubble.config import LabConfig
    from aibubble.ledger import Account


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
        share: float = 0.0,
        funding_interval: int | None = None,
        last_round: int | None = None,
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
        self.gross = 0.0  # USD: revenue less inference compute cost last month
        self.cost_ema = 0.0  # USD per month of compute spending, smoothed
        # months between its rounds (its own cadence) and the step of its last round
        self.funding_interval = cfg.funding_interval_months if funding_interval is None else funding_interval
        self.last_round = -self.funding_interval if last_round is None else last_round
        self.rationed = False  # its last request for a round was not met in full
        self.price = 0.0  # USD per token
        self.share = share  # share of tokens demanded last month
        self.revenue = revenue
        self.compute_spend = 0.0
        self.inference_h100e = 0.0
        self.training_h100e = 0.0
        self.tokens_served = 0.0
        self.tokens_demanded = 0.0
        self.unpaid = 0.0  # USD it failed to pay when it went bankrupt
        self.training_plan = 0.0  # USD per month of training it has planned for this month
        self.want0 = 0.0  # its month-0 return spending X0 times month 0's efficiency (USD per month)

    # --- measures ---------------------------------------------------------------
    @property
    def efficiency(self) -> float:
        """Efficiency multiple relative to month 0 (background progress x adopted gains)."""
        return self.model.background_efficiency * self.gain

    @property
    def tokens_per_h100e_month(self) -> float:
        """Tokens an H100e serves in a month, over the lab's mix of the two tiers.

        A commodity token (fixed capability) needs 1/efficiency of month 0's compute; a frontier
        token spends the capability share of efficiency on capability, so it needs
        efficiency^(capability_share - 1). Users' tokens are `frontier_token_share` frontier, so
        compute per token is the mix of the two (at share 0: every token is a commodity one).
        """
        base = self.model.config.efficiency.tokens_per_h100e_month
        if self.cfg.frontier_token_share == 0:
            return base * self.efficiency
        return base / self.compute_per_token

    @property
    def compute_per_token(self) -> float:
        """Compute per token, relative to month 0, over the mix of the two tiers."""
        theta = self.cfg.frontier_token_share
        return (1 - theta) / self.efficiency + theta * self.frontier_compute_per_token

    def tier_prices(self) -> tuple[float, float]:
        """USD per token of a commodity and of a frontier token: the lab's price scaled by each
        tier's compute per token (the markup is the same on both)."""
        mix = self.compute_per_token
        return self.price / self.efficiency / mix, self.price * self.frontier_compute_per_token / mix

    @property
    def frontier_compute_per_token(self) -> float:
        """Compute per frontier token, relative to month 0: efficiency^(capability_share - 1)."""
        return self.efficiency ** (self.cfg.capability_share - 1.0)

    @property
    def price_per_mtok(self) -> float:
        """Token price in USD per million tokens."""
        return self.price * 1e6

    @property
    def quality(self) -> float:
        """Model quality index: log of effective training compute times an exponent."""
        return self.cfg.training_quality_exponent * math.log(max(self.training_stock, 1.0))

    def training_budget(self, rent: float = 1.0) -> float:
        """USD per month for training: what its expected return justifies, within what its
        money allows (`training_money`).

        `rent` is the market's smoothed rent relative to month 0. With `training_on_returns`
        off, the budget is the money alone times efficiency^(capability_share - 1), the rule
        before.
        """
        money = self.training_money()
        if self.cfg.training_on_returns:
            return min(self.training_want(rent), money)
        saved = self.cfg.capability_share - 1.0
        return money * self.efficiency**saved if saved else money

    def training_money(self) -> float:
        """USD per month the lab can put into training: gross profit plus cash spread over the
        runway. A lab investors would not fund now (revenue not growing), or whose last request
        they rationed, stretches its cash over a longer runway. Training on returns, it counts
        only the gross profit it still makes (last month's, when below the smoothed one) and
        nets a gross loss against its cash, so training never spends more than cash / runway
        beyond what serving users brings in."""
        fundable = self.can_raise() and not self.rationed
        runway = self.cfg.training_runway_months * (1.0 if fundable else self.cfg.conserve_factor)
        cash = max(self.cash, 0.0) / runway
        if self.cfg.training_on_returns:
            return max(min(self.gross_ema, self.gross) + cash, 0.0)
        return max(self.gross_ema, 0.0) + cash

    def training_want(self, rent: float = 1.0) -> float:
        """USD per month of training whose marginal return, at investors' valuation, pays its
        cost: W = X^sigma (X0 rent / E)^(1 - sigma).

        X = eps_K V (g + delta) / 12 is what a lab with log quality spends: it keeps its
        effective training compute where a unit more raises its value V (`valuation`) by what
        the unit costs, so spending follows the growth of that target
        (g, its revenue's log growth a year, extrapolated) plus the obsolescence of its models
        (delta), at the elasticity eps_K of its revenue to its training (`revenue_training_
        elasticity`). Log quality is unit elastic in the price of effective compute (rent / E);
        the capability share sigma is that elasticity: at 1 the same dollars buy more effective
        compute when it gets cheaper, at 0 the lab buys the effective compute it bought at month
        0 (X0) for less.
        """
        x = self.return_spending()
        sigma = self.cfg.capability_share
        if sigma >= 1.0:
            return x
        return x**sigma * (self.want0 * rent / self.efficiency) ** (1.0 - sigma)

    def return_spending(self) -> float:
        """X: USD per month a log-quality lab spends on training (sigma = 1)."""
        growth = math.log(max(self.revenue_growth(), 1.0))  # it does not sell training it has
        value = self.valuation()
        return (
            self.revenue_training_elasticity()
            * value
            * (growth + self.cfg.model_obsolescence_per_year)
            / 12.0
        )

    def valuation(self) -> float:
        """V: what investors pay for the lab (USD), by the venture-capital method: the exit
        multiple of the annual revenue they expect in H years, its growth extrapolated, discounted
        at their required return: V = m_x 12 R (g / (1 + r))^H."""
        cfg = self.cfg
        ratio = self.revenue_growth() / (1.0 + cfg.investor_required_return)
        return (
            cfg.exit_revenue_multiple * 12.0 * max(self.revenue_ema, 0.0) * ratio**cfg.valuation_horizon_years
        )

    def revenue_training_elasticity(self) -> float:
        """eps_K: the elasticity of the lab's revenue to its effective training compute.

        Quality a ln K moves its logit share by quality_sensitivity a (1 - s); capability raises
        every user's usage with elasticity xi, of which the lab keeps its share s.
        """
        users = self.model.config.users
        s = self.share
        return self.cfg.training_quality_exponent * users.quality_sensitivity * (1.0 - s) + (
            users.capability_usefulness_elasticity * s
        )

    # --- decisions ----------------------------------------------------------------
    def plan_training(self, rent: float = 1.0) -> float:
        """USD of training this month: the plan closes 1/`training_planning_months` of its gap
        to the budget, because frontier runs are planned and their compute contracted months
        ahead; a round raised today reaches the clusters over the following months. `rent` is
        the smoothed rent relative to month 0."""
        months = self.cfg.training_planning_months
        returns = self.cfg.training_on_returns
        target = self.training_want(rent) if returns else self.training_budget(rent)
        plan = target if months <= 1 else self.training_plan + (target - self.training_plan) / months
        # training on returns, the plan follows the return with the planning lag, but a run the
        # lab cannot pay for this month is cut at once
        self.training_plan = min(plan, self.training_money()) if returns else plan
        return self.training_plan

    def adopt(self, discovery_id: int, gain: float) -> bool:
        if not self.alive or discovery_id in self.adopted:
            return False
        self.adopted.add(discovery_id)
        self.gain *= gain
        return True

    def set_price(self, choice_sensitivity: float, demand_elasticity: float, spot_price: float) -> None:
        """Cost per token times the logit Bertrand-Nash markup for the lab's share.

        `demand_elasticity` is users' usage elasticity at the lab's pricing horizon; the cost of
        compute is the average price paid last month, or with `price_on_marginal_cost` the
        market's smoothed spot price `spot_price` (USD per H100e-hour), what one more token's
        compute costs whatever the lab's sunk reservations."""
        elasticity = choice_sensitivity * (1.0 - self.share) + demand_elasticity
        if elasticity > 1.0:
            lerner = 1.0 / elasticity
            markup = lerner / (1.0 - lerner)
        else:
            markup = self.cfg.max_markup
        markup = float(min(max(markup, self.cfg.min_markup), self.cfg.max_markup))
        per_hour = spot_price if self.cfg.price_on_marginal_cost else self.compute_price
        cost = per_hour * HOURS_PER_MONTH / self.tokens_per_h100e_month
        self.price = cost * (1.0 + markup)

    def reservation_target(self, inference_need: float) -> float:
        """H100e the lab wants on long contracts: a share of its inference base load.

        Training runs are bought spot with the training budget; serving users is what labs
        cannot afford to have interrupted.
        """
        return self.cfg.reserved_share * inference_need

    # --- money ----------------------------------------------------------------------
    def open_books(
        self, revenue: float, growth_per_year: float, tokens_demanded: float, compute_price: float
    ) -> None:
        """Month 0: revenue at the users' demand, with a history that grew at `growth_per_year`
        (so investors see the growth the market had when the run starts), and smoothed gross
        profit and costs at month 0's levels (inference at `compute_price` USD per H100e-hour
        plus the training budget), as if the lab had been running: smoothing from zero would
        show every lab the same cost surge in its first months and send them to investors
        together."""
        window = self.cfg.funding_growth_window_months
        self.revenue = self.revenue_ema = revenue
        self.revenue_history = [revenue * growth_per_year ** ((k - window) / 12) for k in range(window + 1)]
        self.tokens_demanded = tokens_demanded
        inference_cost = tokens_demanded / self.tokens_per_h100e_month * compute_price * HOURS_PER_MONTH
        self.gross = self.gross_ema = revenue - inference_cost
        self.want0 = self.return_spending() * self.efficiency
        self.training_plan = self.training_budget()
        self.cost_ema = inference_cost + self.training_plan

    def open_training(self, training_usd: float) -> None:
        """Month 0: a lab that plans its runs ahead is training what month 0's fleet carries
        (USD per month), not its budget; its smoothed costs say so."""
        if self.cfg.training_planning_months > 1:
            self.cost_ema += training_usd - self.training_plan
            self.training_plan = training_usd

    def observe_demand(self, tokens_demanded: float) -> None:
        """Tokens per month its users want from it this month."""
        self.tokens_demanded = tokens_demanded

    def observe_share(self, share: float) -> None:
        """Its share of all tokens demanded this month (sets next month's markup)."""
        self.share = share

    def record_revenue(self, revenue: float) -> None:
        self.revenue = revenue
        a = 1.0 / self.cfg.revenue_smoothing_months
        self.revenue_ema += a * (revenue - self.revenue_ema)
        self.revenue_history.append(revenue)
        del self.revenue_history[: -self.cfg.funding_growth_window_months - 1]

    def revenue_growth(self) -> float:
        """Revenue growth over the funding window, per year; 1 when history is short."""
        h = self.revenue_history
        window = self.cfg.funding_growth_window_months
        if len(h) < window + 1 or h[0] <= 0:
            return 1.0
        return (h[-1] / h[0]) ** (12 / window)

    def can_raise(self) -> bool:
        return self.revenue_growth() >= self.cfg.funding_min_growth_per_year

    def funding_request(self, step: int) -> float:
        """USD it asks investors for now: a round sized on revenue, when cash runs short, its
        cadence allows and revenue grows fast enough to clear investors' hurdle."""
        cfg = self.cfg
        if step - self.last_round < self.funding_interval:
            return 0.0
        if self.cash >= cfg.funding_runway_months * self.cost_ema or not self.can_raise():
            return 0.0
        return cfg.funding_revenue_years * 12 * self.revenue_ema

    def raise_funding(self, step: int, requested: float, granted: float) -> None:
        """Take what investors granted; any grant closes a round, an empty pool closes none.
        A request granted in part or not at all leaves the lab rationed until one is met."""
        if requested > 0:
            self.rationed = granted < requested * (1 - 1e-9)
        if granted <= 0:
            return
        self.last_round = step
        self.model.ledger.transfer("investors", self, granted, "funding")
        detail = "" if granted >= requested else f"rationed: requested {requested:.4g} USD"
        self.model.events.add(step, self.unique_id, "lab", "funding", "revenue growth", granted, detail)

    def record_costs(self, spend: float, inference_cost: float) -> None:
        a = 1.0 / self.cfg.revenue_smoothing_months
        self.compute_spend = spend
        self.cost_ema += a * (spend - self.cost_ema)
        self.gross = self.revenue - inference_cost
        self.gross_ema += a * (self.gross - self.gross_ema)

    # --- the month --------------------------------------------------------------------
    # serve (users pay), then the model collects funding requests and the investor pool
    # grants them, then settle (take the grant, pay the compute bills)
    def serve(self, inference_h100e: float, training_h100e: float) -> None:
        """Serve what its inference compute allows, collect users' payments and train."""
        self.tokens_served = min(self.tokens_demanded, inference_h100e * self.tokens_per_h100e_month)
        self.inference_h100e = inference_h100e
        self.training_h100e = training_h100e
        self.training_stock += training_h100e * self.efficiency
        revenue = self.model.ledger.transfer(
            "end_users", self, self.tokens_served * self.price, "ai_spending"
        )
        self.record_revenue(revenue)

    def settle(
        self,
        step: int,
        requested: float,
        granted: float,
        bills: np.ndarray,
        hosts: Sequence[Account],
        reference_price: float,
    ) -> np.ndarray:
        """Take the funding investors granted and pay the month's compute bills (USD per
        host). Returns what each host was paid."""
        self.raise_funding(step, requested, granted)
        used = self.inference_h100e + self.training_h100e
        paid = self.pay_compute(step, bills, hosts, self.inference_h100e / used if used > 0 else 0.0)
        self.compute_price = self.compute_spend / (used * HOURS_PER_MONTH) if used > 0 else reference_price
        return paid

    def pay_compute(
        self, step: int, bills: np.ndarray, hosts: Sequence[Account], inference_share: float
    ) -> np.ndarray:
        """Pay every host its bill; a lab that cannot pay in full pays out the cash it has,
        pro rata, and goes bankrupt. Returns USD paid per host."""
        ledger = self.model.ledger
        total = float(bills.sum())
        # cash that paid a bill exactly can end a rounding error below zero: that is no cash
        cash = max(self.cash, 0.0)
        paid_share = 1.0 if total <= cash else cash / total  # no division when cash covers it
        payments = (bills * paid_share).tolist()
        last = -1  # a failing lab pays out exactly the cash it has: what is left goes to its last creditor
        if paid_share < 1.0:
            last = max((j for j, amount in enumerate(payments) if amount), default=-1)
        paid = np.zeros(len(hosts))
        for j, amount in enumerate(payments):
            if j == last:
                amount = max(self.cash, 0.0)
            paid[j] = ledger.transfer(self, hosts[j], float(amount), "compute_rent")
        self.record_costs(total * paid_share, total * paid_share * inference_share)
        if paid_share < 1.0:
            self.go_bankrupt(step, total * (1 - paid_share))
        return paid

    def go_bankrupt(self, step: int, unpaid: float) -> None:
        """Stop trading: contracts end, remaining cash goes back to investors, its architects
        move to living labs."""
        model = self.model
        self.alive = False
        self.unpaid = unpaid
        released = model.contracts.terminate_lab(self.index)
        model.ledger.transfer(self, "investors", max(self.cash, 0.0), "liquidation")
        model.events.add(
            step,
            self.unique_id,
            "lab",
            "bankruptcy",
            "unpaid compute bill",
            unpaid,
            f"released={released:.0f} H100e",
        )
        alive = [other.index for other in model.labs if other.alive]
        for architect in model.architects:
            architect.lab_closed(self.index, alive)

    def idle(self) -> None:
        """A bankrupt lab serves, buys and earns nothing."""
        self.revenue = self.tokens_served = self.inference_h100e = self.training_h100e = 0.0
        self.compute_spend = 0.0
