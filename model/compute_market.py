"""Spot market for GPU time: merit-order clearing over arrays, no agents involved.

Units: quantities in H100e-months (one H100-equivalent for one month), prices in USD per
H100e-hour. Offers are capacity blocks with an ask (operating cost plus a markup), so a glut
clears near operating cost. Demand has two parts per lab: inference, which labs buy at any
price up to the cap (their users are waiting), and training, set as a USD budget. Training
runs are planned at the reference (smoothed) price: above it a budget buys fewer GPUs
(unit elastic), below it the planned run grows only with `below_elasticity` until the
reference price falls, so cheaper compute buys bigger runs, but with a lag. At 0 (the
default) that demand has a flat part, and the clearing price jumps between scarcity and an
ask as the reference crosses it; at 1 training is unit elastic everywhere, without a kink.
When demand at the cap exceeds supply, everyone is rationed pro rata: the scarcity premium
and rationing of docs/design.md#mechanisms.

`allocate` is the month's compute market as a whole: reserved capacity first, then the spot
market for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from aibubble.measures import HOURS_PER_MONTH

if TYPE_CHECKING:
    from aibubble.config import ComputeMarketConfig
    from aibubble.contracts import ContractBook


@dataclass(frozen=True)
class Clearing:
    price: float  # USD per H100e-hour
    inference: np.ndarray  # H100e-months served per lab
    training: np.ndarray  # H100e-months served per lab
    dispatched: np.ndarray  # H100e-months sold per offer (input order)
    demand: float  # H100e-months demanded at the clearing price, before rationing
    rationed: bool


def training_demand(
    budget_usd: np.ndarray | float,
    price: np.ndarray | float,
    reference_price: float = 0.0,
    below_elasticity: float = 0.0,
) -> np.ndarray:
    """H100e-months of training planned with a USD budget, at `price` given the reference.

    At or above the reference price the budget buys budget / price (unit elastic). Below it the
    planned run buys budget / reference, and labs take extra spot compute with elasticity
    `below_elasticity` (0: none until the reference falls; 1: unit elastic, no kink). Per lab
    at one price, or one budget at many prices (the asks of the supply curve).
    """
    price = np.asarray(price, dtype=float)
    planned = budget_usd / (np.maximum(price, reference_price) * HOURS_PER_MONTH)
    if below_elasticity > 0:
        cheap = (price > 0) & (price < reference_price)
        with np.errstate(divide="ignore", over="ignore"):
            extra = np.where(cheap, (reference_price / price) ** below_elasticity, 1.0)
        planned = np.where(cheap, planned * extra, planned)
    return planned


def _equilibrium(
    asks: np.ndarray,
    cum: np.ndarray,
    inelastic: float,
    budget: float,
    max_price: float,
    reference: float,
    below: float = 0.0,
) -> float:
    """Lowest price at which supply covers demand; `max_price` if none does.

    Segment k of the supply curve offers cum[k] at prices in [asks[k], asks[k+1]). There,
    either demand at the ask already fits (glut: the ask is the price), or training
    budgets fill the room left by inference at a price below the next ask and the cap:
    budget / (H x room) at or above the reference price, and below it the reference times
    (planned / room)^(1 / below), where planned = budget / (H x reference) (the inverse of
    `training_demand`). The first segment where either holds wins.
    """
    if asks.size == 0:
        return max_price
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        glut = inelastic + training_demand(budget, asks, reference, below) <= cum
        room = cum - inelastic
        ceiling = np.minimum(np.append(asks[1:], np.inf), max_price)
        planned = budget / (HOURS_PER_MONTH * reference) if reference > 0 else np.inf
        at_or_above = room <= planned
        under = reference * (planned / room) ** (1.0 / below) if below > 0 else np.full_like(room, np.inf)
        fill_price = np.where(at_or_above, budget / (HOURS_PER_MONTH * room), under)
        fits = np.where(at_or_above, budget <= HOURS_PER_MONTH * room * ceiling, under <= ceiling)
        fill = (room > 0) & fits
    hit = np.flatnonzero((glut | fill) & (asks <= max_price))
    if hit.size == 0:
        return max_price
    k = hit[0]
    return float(asks[k]) if glut[k] else float(fill_price[k])


def clear_spot(
    ask: np.ndarray,
    capacity: np.ndarray,
    inference_need: np.ndarray,
    training_budget_usd: np.ndarray,
    max_price: float,
    previous_price: float | None = None,
    adjustment: float = 1.0,
    reference_price: float = 0.0,
    below_elasticity: float = 0.0,
) -> Clearing:
    """Find the lowest price at which offered capacity covers demand, and dispatch it.

    With `previous_price` and a partial `adjustment` in (0, 1) the posted price closes that
    share of the log gap to the clearing price each month (posted rents are revised, not
    re-auctioned); at a posted price above clearing capacity idles, below it demand is
    rationed. At 1 the posted price is the clearing price.

    `ask` and `capacity` describe offers; `inference_need` (H100e-months) and
    `training_budget_usd` are per lab; `reference_price` and `below_elasticity` shape training
    demand (see `training_demand`). Supply is a step function of price, demand falls with
    price, so the price is either an ask (the marginal offer is partly dispatched: glut) or
    the point where training demand fills the remaining capacity (scarcity), capped at
    `max_price` (rationing).
    """
    order = np.argsort(ask, kind="stable")
    asks, caps = ask[order], capacity[order]
    cum = np.cumsum(caps)
    inelastic = float(inference_need.sum())
    budget = float(training_budget_usd.sum())
    price = _equilibrium(asks, cum, inelastic, budget, max_price, reference_price, below_elasticity)
    if previous_price is not None and adjustment < 1.0 and previous_price > 0:
        price = float(min(previous_price ** (1 - adjustment) * price**adjustment, max_price))
    train = training_demand(training_budget_usd, price, reference_price, below_elasticity)
    wanted = inference_need + train
    demand = float(wanted.sum())
    available = float(caps[asks <= price].sum())
    rationed = demand > available * (1 + 1e-12)
    if rationed:
        share = available / demand if demand > 0 else 0.0
        got = wanted * share
        inference = np.minimum(inference_need, got)
        training = got - inference
        sold = available
    else:
        inference, training, sold = inference_need.astype(float), train, min(demand, available)
    taken = np.where(asks <= price, np.minimum(np.maximum(sold - (cum - caps), 0.0), caps), 0.0)
    dispatched = np.empty_like(taken)
    dispatched[order] = taken
    return Clearing(price, inference, training, dispatched, demand, rationed)


@dataclass(frozen=True)
class Offer:
    """One host's fleet this month, per cohort: H100e held for reservations, H100e free for the
    spot market, and the spot ask (USD per H100e-hour)."""

    reserved: np.ndarray
    free: np.ndarray
    ask: np.ndarray


@dataclass(frozen=True)
class Allocation:
    """Who got which compute this month (H100e-months)."""

    clearing: Clearing  # the spot market
    inference: np.ndarray  # per lab, reserved + spot
    training: np.ndarray  # per lab, reserved + spot
    spot: np.ndarray  # per lab, bought spot
    reserved_used: float  # reserved capacity in use, all hosts
    used_by_cohort: list[np.ndarray]  # per host, per cohort, reserved + spot
    spot_by_host: np.ndarray  # sold spot, per host

    def bills(self, reserved_bills: np.ndarray) -> np.ndarray:
        """USD each lab owes each host (lab x host): take-or-pay reservations plus spot
        purchases at the clearing price, spread over hosts by their spot sales."""
        total = self.spot_by_host.sum()
        host_share = self.spot_by_host / total if total > 0 else np.zeros(self.spot_by_host.size)
        spot_bill = self.spot * self.clearing.price * HOURS_PER_MONTH
        return reserved_bills + spot_bill[:, None] * host_share[None, :]


def allocate(
    book: ContractBook,
    installed: np.ndarray,
    offers: list[Offer],
    inference_need: np.ndarray,
    training_budget_usd: np.ndarray,
    trading: np.ndarray,
    market: ComputeMarketConfig,
    previous_price: float,
    reference_price: float,
) -> Allocation:
    """Reserved capacity first, then the spot market for what is left.

    Labs serve inference from their reservations (hosts short of committed capacity after
    failures deliver pro rata) and train on the reserved capacity they pay for anyway when
    they have a training budget; that capacity's cost comes out of the budget. Inference
    beyond reservations and the rest of the budgets clear in the spot market (`clear_spot`).
    Labs that are not `trading` (bankrupt) buy nothing.
    """
    n_labs, n_hosts = inference_need.size, installed.size
    committed = book.by_host(n_hosts)
    delivery = np.divide(installed, committed, out=np.ones(n_hosts), where=committed > installed)
    delivered = book.h100e * delivery[book.host]  # H100e each contract delivers
    held = np.bincount(book.lab, weights=delivered, minlength=n_labs)
    res_cost = np.bincount(book.lab, weights=book.h100e * book.price * HOURS_PER_MONTH, minlength=n_labs)
    budget = training_budget_usd * trading
    inf_res = np.minimum(inference_need, held)
    leftover = held - inf_res
    train_res = np.where(budget > 0, leftover, 0.0)
    unit_cost = np.divide(res_cost, held * HOURS_PER_MONTH, out=np.zeros(n_labs), where=held > 0)
    spot_budget = np.maximum(budget - train_res * unit_cost * HOURS_PER_MONTH, 0.0)
    used_share = np.divide(inf_res + train_res, held, out=np.zeros(n_labs), where=held > 0)
    host_used = np.bincount(book.host, weights=delivered * used_share[book.lab], minlength=n_hosts)
    reserved_used = []
    for j, offer in enumerate(offers):
        total = offer.reserved.sum()
        reserved_used.append(offer.reserved * (host_used[j] / total) if total > 0 else offer.reserved * 0.0)
    clearing = clear_spot(
        np.concatenate([o.ask for o in offers]),
        np.concatenate([o.free for o in offers]),
        np.maximum(inference_need - inf_res, 0.0) * trading,
        spot_budget,
        market.max_price_usd_per_gpu_hour,
        previous_price,
        market.price_adjustment_per_month,
        reference_price,
        market.training_elasticity_below_reference,
    )
    sizes = [o.free.size for o in offers]
    owner = np.repeat(np.arange(len(offers)), sizes)  # host of each offered cohort
    bounds = np.cumsum([0, *sizes])
    return Allocation(
        clearing=clearing,
        inference=inf_res + clearing.inference,
        training=train_res + clearing.training,
        spot=clearing.inference + clearing.training,
        reserved_used=float(host_used.sum()),
        used_by_cohort=[
            reserved_used[j] + clearing.dispatched[bounds[j] : bounds[j + 1]] for j in range(len(offers))
        ],
        spot_by_host=np.bincount(owner, weights=clearing.dispatched, minlength=n_hosts),
    )
