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
When demand at the cap exceeds supply, spot buyers are rationed pro rata (reservations are
served first): the scarcity premium and rationing of docs/design.md#mechanisms.

Frontier training needs recent clusters; serving users runs on any GPU. With a training age
limit the offers split into two pools, recent (any use) and legacy (inference only), and the
market may clear at two prices: training bids only for recent capacity, inference takes the
cheaper of the two, so legacy capacity rents at or below recent capacity. When legacy capacity
alone would cost inference more than recent capacity costs training, inference spills over
and the pools clear as one market at one price.

`allocate` is the month's compute market as a whole. Reservations are a price, not a place:
the whole fleet is dispatched in one merit order, reserved use first, so reserved capacity a
lab leaves idle is sold spot and the spot price is set by the fleet's marginal GPU. Each host
is paid its contracts' take-or-pay bills and the spot price for what it supplied beyond them,
and pays the spot price for what its contracts used beyond its own supply.
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
    price: float  # USD per H100e-hour of recent capacity (training's price; everyone's in one market)
    legacy_price: float  # USD per H100e-hour inference pays; equals `price` in one market
    inference: np.ndarray  # H100e-months served per lab, reserved + spot
    training: np.ndarray  # H100e-months served per lab, reserved + spot
    spot_inference: np.ndarray  # the part of `inference` bought spot, per lab
    spot_training: np.ndarray  # the part of `training` bought spot, per lab
    dispatched: np.ndarray  # H100e-months used per offer (input order)
    dispatched_training: np.ndarray  # the part of it used for training
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


def _fill(room: np.ndarray, amount: float) -> np.ndarray:
    """Take `amount` from offers in the given (merit) order: what each supplies."""
    before = np.cumsum(room) - room
    return np.minimum(np.maximum(amount - before, 0.0), room)


def _share(wanted: np.ndarray, room: float) -> np.ndarray:
    """Each buyer's pro rata part of `room` (all of what it wanted when room suffices)."""
    total = float(wanted.sum())
    return wanted * min(1.0, max(room, 0.0) / total) if total > 0 else wanted * 0.0


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
    recent: np.ndarray | None = None,
    previous_legacy_price: float | None = None,
    firm_inference: np.ndarray | None = None,
    firm_training: np.ndarray | None = None,
) -> Clearing:
    """Find the lowest price at which offered capacity covers demand, and dispatch it.

    With `previous_price` and a partial `adjustment` in (0, 1) the posted price closes that
    share of the log gap to the clearing price each month (posted rents are revised, not
    re-auctioned); at a posted price above clearing capacity idles, below it demand is
    rationed. At 1 the posted price is the clearing price.

    `ask` and `capacity` describe offers; `inference_need` (H100e-months) and
    `training_budget_usd` are per lab; `reference_price` and `below_elasticity` shape training
    demand (see `training_demand`). `firm_inference` and `firm_training` (H100e-months per
    lab) are reserved use, served first at any price. Supply is a step function of price,
    demand falls with price, so the price is either an ask (the marginal offer is partly
    dispatched: glut) or the point where training demand fills the remaining capacity
    (scarcity), capped at `max_price` (rationing).

    `recent` marks the offers training can use (None: all). Each pool is cleared alone first,
    training on recent capacity and inference on legacy capacity; if legacy would then cost
    more than recent, the pools are one market (inference spills over) and clear together:
    at that price training still fits on recent capacity, since it wanted no more than recent
    supply at the lower recent-only price.
    """
    order = np.argsort(ask, kind="stable")
    asks, caps = ask[order], capacity[order]
    firm_inf = np.zeros_like(inference_need, dtype=float) if firm_inference is None else firm_inference
    firm_tr = np.zeros_like(inference_need, dtype=float) if firm_training is None else firm_training
    inelastic = float(inference_need.sum() + firm_inf.sum())
    firm_training_total = float(firm_tr.sum())
    firm = float(firm_inf.sum()) + firm_training_total
    budget = float(training_budget_usd.sum())
    args = (max_price, reference_price, below_elasticity)
    price = legacy = _equilibrium(asks, np.cumsum(caps), inelastic + firm_training_total, budget, *args)
    can_train = np.ones(asks.size, dtype=bool) if recent is None else recent[order]
    old = ~can_train
    # two prices only if legacy GPUs alone can serve users: otherwise inference spills over
    if old.any() and caps[old].sum() >= inelastic:
        alone = _equilibrium(asks[can_train], np.cumsum(caps[can_train]), firm_training_total, budget, *args)
        legacy_alone = _equilibrium(asks[old], np.cumsum(caps[old]), inelastic, 0.0, *args)
        if legacy_alone <= alone:
            price, legacy = alone, legacy_alone
    if previous_price is not None and adjustment < 1.0 and previous_price > 0:
        before = previous_price if previous_legacy_price is None else previous_legacy_price
        price = float(min(previous_price ** (1 - adjustment) * price**adjustment, max_price))
        legacy = float(min(before ** (1 - adjustment) * legacy**adjustment, max_price))
    train = training_demand(training_budget_usd, price, reference_price, below_elasticity)
    trainable = np.where(can_train & (asks <= price), caps, 0.0)
    if price == legacy:  # one market: reservations first, spot buyers pro rata, users first
        room = float(caps[asks <= price].sum())
        firm_scale = min(1.0, room / firm) if firm > 0 else 1.0  # reservations share the room
        firm_inf, firm_tr = firm_inf * firm_scale, firm_tr * firm_scale
        got = _share(inference_need + train, room - firm)
        spot_inf = np.minimum(inference_need, got)
        spot_tr = got - spot_inf
    else:  # two pools: training on recent capacity, then inference on what is left
        room = float(trainable.sum())
        firm_tr = _share(firm_tr, room)
        spot_tr = _share(train, room - float(firm_tr.sum()))
    trained = float(firm_tr.sum() + spot_tr.sum())
    if trained > trainable.sum():  # only at posted prices: recent capacity bounds training
        spot_tr = _share(spot_tr, float(trainable.sum() - firm_tr.sum()))
        firm_tr = _share(firm_tr, float(trainable.sum()))
        trained = float(firm_tr.sum() + spot_tr.sum())
    taken_training = _fill(trainable, trained)
    rest = np.where(asks <= legacy, caps - taken_training, 0.0)
    if price != legacy:
        firm_inf = _share(firm_inf, float(rest.sum()))
        spot_inf = _share(inference_need, float(rest.sum() - firm_inf.sum()))
    taken = taken_training + _fill(rest, float(firm_inf.sum() + spot_inf.sum()))
    dispatched, dispatched_training = np.empty_like(taken), np.empty_like(taken)
    dispatched[order], dispatched_training[order] = taken, taken_training
    demand = firm + float(inference_need.sum() + train.sum())
    served = float(firm_inf.sum() + firm_tr.sum() + spot_inf.sum() + spot_tr.sum())
    return Clearing(
        price,
        legacy,
        firm_inf + spot_inf,
        firm_tr + spot_tr,
        spot_inf,
        spot_tr,
        dispatched,
        dispatched_training,
        demand,
        served < demand * (1 - 1e-12),
    )


@dataclass(frozen=True)
class Offer:
    """One host's fleet this month, per cohort: H100e in service, the spot ask (USD per
    H100e-hour), and which cohorts are recent enough for frontier training (None: all)."""

    capacity: np.ndarray
    ask: np.ndarray
    recent: np.ndarray | None = None

    @property
    def trainable(self) -> float:
        """H100e recent enough for frontier training."""
        return float(self.capacity.sum() if self.recent is None else self.capacity[self.recent].sum())


@dataclass(frozen=True)
class Allocation:
    """Who got which compute this month (H100e-months)."""

    clearing: Clearing  # the market, reserved use included
    used_by_cohort: list[np.ndarray]  # per host, per cohort
    spot_inference_by_host: np.ndarray  # what each host supplied for inference beyond its contracts
    spot_training_by_host: np.ndarray  # and for training
    short_inference_by_host: np.ndarray  # what its contracts used beyond what it supplied
    short_training_by_host: np.ndarray

    @property
    def inference(self) -> np.ndarray:
        return self.clearing.inference

    @property
    def training(self) -> np.ndarray:
        return self.clearing.training

    @property
    def used(self) -> float:
        return float(self.clearing.dispatched.sum())

    def bills(self, reserved_bills: np.ndarray) -> np.ndarray:
        """USD each lab owes each host (lab x host): take-or-pay reservations plus spot
        purchases, inference at its price and training at its own, each spread over the hosts
        by what they supplied for that use beyond their contracts."""
        return reserved_bills + self._at_spot(self.clearing.spot_inference, self.clearing.spot_training)

    def wholesale(self) -> np.ndarray:
        """USD each host owes each other host (payer x payee): a host whose contracts were
        served on other hosts' GPUs buys that compute at the spot price from the hosts that
        supplied more than their own contracts used (contracts settle like contracts for
        difference). With the labs' spot bills it pays each supplier the spot price for all it
        supplied beyond its contracts."""
        return self._at_spot(self.short_inference_by_host, self.short_training_by_host)

    def _at_spot(self, inference: np.ndarray, training: np.ndarray) -> np.ndarray:
        """USD each payer owes each host (payer x host) for H100e-months bought at this month's
        prices, inference and training each spread over the hosts that supplied it spot."""
        clearing = self.clearing
        return _spread(
            inference * clearing.legacy_price * HOURS_PER_MONTH, self.spot_inference_by_host
        ) + _spread(training * clearing.price * HOURS_PER_MONTH, self.spot_training_by_host)


def _spread(bill: np.ndarray, sold_by_host: np.ndarray) -> np.ndarray:
    """Each lab's bill (USD) spread over hosts in proportion to what they sold (lab x host)."""
    total = sold_by_host.sum()
    share = sold_by_host / total if total > 0 else np.zeros(sold_by_host.size)
    return bill[:, None] * share[None, :]


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
    previous_legacy_price: float | None = None,
) -> Allocation:
    """Reserved use first, then the spot market for the rest, in one dispatch of the fleet.

    Labs serve inference from their reservations (hosts short of committed capacity after
    failures deliver pro rata) and train on the reserved capacity they pay for anyway when
    they have a training budget; that capacity's cost comes out of the budget. Inference
    beyond reservations and the rest of the budgets are bought spot (`clear_spot`). Labs that
    are not `trading` (bankrupt) buy nothing. A host keeps its contracts' bills whoever's GPUs
    served them; it buys what its contracts used beyond its own supply at the spot price from
    the hosts that supplied more (`Allocation.wholesale`), who also get the labs' spot bills.
    """
    n_labs, n_hosts = inference_need.size, installed.size
    committed = book.by_host(n_hosts)
    delivery = np.divide(installed, committed, out=np.ones(n_hosts), where=committed > installed)
    delivered = book.h100e * delivery[book.host]  # H100e each contract delivers
    held = np.bincount(book.lab, weights=delivered, minlength=n_labs)
    res_cost = np.bincount(book.lab, weights=book.h100e * book.price * HOURS_PER_MONTH, minlength=n_labs)
    budget = training_budget_usd * trading
    inf_res = np.minimum(inference_need, held)
    train_res = np.where(budget > 0, held - inf_res, 0.0)
    unit_cost = np.divide(res_cost, held * HOURS_PER_MONTH, out=np.zeros(n_labs), where=held > 0)
    spot_budget = np.maximum(budget - train_res * unit_cost * HOURS_PER_MONTH, 0.0)
    pooled = any(o.recent is not None for o in offers)
    clearing = clear_spot(
        np.concatenate([o.ask for o in offers]),
        np.concatenate([o.capacity for o in offers]),
        np.maximum(inference_need - inf_res, 0.0) * trading,
        spot_budget,
        market.max_price_usd_per_gpu_hour,
        previous_price,
        market.price_adjustment_per_month,
        reference_price,
        market.training_elasticity_below_reference,
        np.concatenate([_recent(o) for o in offers]) if pooled else None,
        previous_legacy_price,
        firm_inference=inf_res * trading,
        firm_training=train_res * trading,
    )
    sizes = [o.capacity.size for o in offers]
    owner = np.repeat(np.arange(len(offers)), sizes)  # host of each offered cohort
    bounds = np.cumsum([0, *sizes])
    # what each host's contracts used, by use: firm use per lab spread over its contracts
    firm_inf = clearing.inference - clearing.spot_inference
    firm_tr = clearing.training - clearing.spot_training
    per_contract = delivered / np.maximum(held[book.lab], 1e-300)
    contract_inf = np.bincount(book.host, weights=per_contract * firm_inf[book.lab], minlength=n_hosts)
    contract_tr = np.bincount(book.host, weights=per_contract * firm_tr[book.lab], minlength=n_hosts)
    supplied_tr = np.bincount(owner, weights=clearing.dispatched_training, minlength=n_hosts)
    supplied_inf = np.bincount(owner, weights=clearing.dispatched, minlength=n_hosts) - supplied_tr
    return Allocation(
        clearing=clearing,
        used_by_cohort=[clearing.dispatched[bounds[j] : bounds[j + 1]] for j in range(len(offers))],
        spot_inference_by_host=np.maximum(supplied_inf - contract_inf, 0.0),
        spot_training_by_host=np.maximum(supplied_tr - contract_tr, 0.0),
        short_inference_by_host=np.maximum(contract_inf - supplied_inf, 0.0),
        short_training_by_host=np.maximum(contract_tr - supplied_tr, 0.0),
    )


def _recent(offer: Offer) -> np.ndarray:
    return np.ones(offer.ask.size, dtype=bool) if offer.recent is None else offer.recent
