"""The mechanisms that allocate across agents, alone: the contract book, reservations, the
month's compute allocation, the ledger and the bubble indicators.

(`clear_spot` and the GPU vendor have their own tests in test_markets.py.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from aibubble.compute_market import Offer, allocate, clear_spot
from aibubble.config import BubbleConfig, ComputeMarketConfig
from aibubble.contracts import ContractBook, forward_rent, split_reservations
from aibubble.ledger import EXTERNAL, Ledger
from aibubble.measures import HOURS_PER_MONTH as H
from aibubble.metrics import BubbleTracker

# --- the contract book --------------------------------------------------------------


def book_of_three() -> ContractBook:
    """Lab 0 with hosts 0 and 1 at $2/h until step 5; lab 1 with host 1 at $3/h until step 8."""
    book = ContractBook()
    book.add(0, np.array([0, 1]), np.array([10.0, 20.0]), 2.0, 5)
    book.add(1, 1, 30.0, 3.0, 8)
    return book


def test_contracts_signed_in_one_go_broadcast_scalars_over_arrays():
    book = book_of_three()
    assert list(book.lab) == [0, 0, 1] and list(book.host) == [0, 1, 1]
    assert book.h100e == pytest.approx([10, 20, 30]) and book.price == pytest.approx([2, 2, 3])
    assert list(book.end) == [5, 5, 8]


def test_signing_a_matrix_records_only_its_positive_entries():
    book = ContractBook()
    book.sign(np.array([[0.0, 4.0], [5.0, 0.0], [0.0, 0.0]]), price=2.5, end=12)
    assert list(zip(book.lab, book.host, book.h100e, strict=True)) == [(0, 1, 4.0), (1, 0, 5.0)]
    assert book.price == pytest.approx([2.5, 2.5]) and list(book.end) == [12, 12]


def test_the_book_totals_capacity_by_lab_and_by_host():
    book = book_of_three()
    assert book.by_lab(3) == pytest.approx([30.0, 30.0, 0.0])
    assert book.by_host(2) == pytest.approx([10.0, 50.0])


def test_take_or_pay_bills_are_capacity_times_price_for_the_month_per_lab_and_host():
    bills = book_of_three().bills(2, 3)
    assert bills.shape == (2, 3)
    assert bills == pytest.approx(np.array([[10 * 2 * H, 20 * 2 * H, 0.0], [0.0, 30 * 3 * H, 0.0]]))


def test_contracts_are_in_force_through_their_end_step_and_expire_after():
    book = book_of_three()
    book.expire(5)
    assert book.by_lab(2) == pytest.approx([30.0, 30.0])
    book.expire(6)
    assert book.by_lab(2) == pytest.approx([0.0, 30.0]) and list(book.end) == [8]


@pytest.mark.parametrize("d, months", [(0.02, 24), (0.1, 7), (0.5, 36)])
def test_a_reservation_on_the_expected_rent_is_the_mean_expected_spot_rent_over_its_term(d, months):
    expected = 2.0 * np.mean(np.exp(-d * np.arange(months)))
    assert forward_rent(2.0, d, months) == pytest.approx(expected, rel=1e-12)
    assert forward_rent(2.0, 0.0, months) == 2.0  # no decline expected: today's rent
    assert forward_rent(2.0, d, 1) == 2.0  # a one-month contract is a month of spot


@pytest.mark.parametrize("expected_rent", [False, True])
def test_the_model_prices_new_reservations_on_the_rent_expected_over_their_term(expected_rent):
    """In the full model each month's new contracts cost the reference rent of the month they
    are signed, on the hardware decline over their term when the option is on, plus the
    term premium."""
    from aibubble import AIMarketModel

    overrides = {"labs.contracts_on_expected_rent": expected_rent, "labs.term_premium": 0.1}
    model = AIMarketModel(scenario="baseline", rng=3, n_users=300, steps=12, overrides=overrides)
    cfg = model.config
    decline = math.log(2) / (12 * cfg.efficiency.hardware_doubling_years)
    factor = forward_rent(1.0, decline, cfg.labs.contract_months) if expected_rent else 1.0
    model.step(), model.step()  # contracts in force at month 0 end by month 24 at the latest
    signed = 0
    for _ in range(10):
        t, rent = model.steps + 1, model.reference_price  # Mesa counts the step before it runs
        model.step()
        new = model.contracts.end == t + cfg.labs.contract_months - 1
        signed += int(new.sum())
        assert model.contracts.price[new] == pytest.approx(rent * factor * 1.1, rel=1e-12)
    assert signed > 0  # a growing market signs new reservations
    assert (factor < 0.8) == expected_rent  # 24 months at a 2.5-year doubling: 0.78


def test_terminating_a_lab_drops_only_its_contracts_and_reports_the_capacity_released():
    book = book_of_three()
    assert book.terminate_lab(0) == pytest.approx(30.0)
    assert list(book.lab) == [1] and book.by_host(2) == pytest.approx([0.0, 30.0])
    assert book.terminate_lab(0) == 0.0


def test_mean_price_is_capacity_weighted_with_a_fallback_for_an_empty_book():
    assert book_of_three().mean_price(fallback=9.0) == pytest.approx((10 * 2 + 20 * 2 + 30 * 3) / 60)
    assert ContractBook().mean_price(fallback=9.0) == 9.0


# --- reservations -----------------------------------------------------------------


def test_labs_reserve_in_turn_in_proportion_to_the_hosts_free_capacity():
    signed = split_reservations(np.array([50.0, 100.0, 30.0]), np.array([40.0, 60.0]))
    # lab 0 takes its 50 as 40:60; lab 1 takes the 50 left; nothing is left for lab 2
    assert signed == pytest.approx(np.array([[20.0, 30.0], [20.0, 30.0], [0.0, 0.0]]))


def test_labs_that_want_nothing_reserve_nothing_and_the_free_capacity_is_not_consumed():
    free = np.array([40.0, 60.0])
    signed = split_reservations(np.array([0.0, -5.0, 10.0]), free)
    assert signed == pytest.approx(np.array([[0.0, 0.0], [0.0, 0.0], [4.0, 6.0]]))
    assert free == pytest.approx([40.0, 60.0])  # the caller's array is untouched


@pytest.mark.parametrize("seed", range(20))
def test_reservations_never_exceed_what_labs_want_nor_what_hosts_have_free(seed):
    rng = np.random.default_rng(seed)
    wanted = rng.uniform(-10, 100, rng.integers(1, 6))
    free = rng.uniform(0, 100, rng.integers(1, 5)) * (rng.random() < 0.9)
    signed = split_reservations(wanted, free)
    assert np.all(signed >= 0)
    assert np.all(signed.sum(axis=1) <= np.maximum(wanted, 0) * (1 + 1e-12))
    assert np.all(signed.sum(axis=0) <= free * (1 + 1e-12) + 1e-12)
    assert signed.sum() == pytest.approx(min(np.maximum(wanted, 0).sum(), free.sum()))


# --- the month's compute allocation ---------------------------------------------------

MARKET = ComputeMarketConfig(max_price_usd_per_gpu_hour=12.0)


def offer(h100e: list[float], ask: list[float], recent: list[bool] | None = None) -> Offer:
    return Offer(np.array(h100e), np.array(ask), None if recent is None else np.array(recent))


@dataclass
class Month:
    """Two hosts of 200 H100e. Lab 0 reserves 100 with host 0, lab 1 reserves 50 with host 1,
    both at $2/h; asks are $0.8 and $1.6 at host 1, $1 and $2 at host 0."""

    book: ContractBook
    installed: np.ndarray
    offers: list[Offer]

    @classmethod
    def make(cls) -> Month:
        book = ContractBook()
        book.add(np.array([0, 1]), np.array([0, 1]), np.array([100.0, 50.0]), 2.0, 12)
        offers = [offer([120.0, 80.0], [1.0, 2.0]), offer([150.0, 50.0], [0.8, 1.6])]
        return cls(book, np.array([200.0, 200.0]), offers)

    def allocate(self, need, budget, trading=(True, True), previous_price=1.0, reference_price=0.0):
        return allocate(
            self.book,
            self.installed,
            self.offers,
            np.array(need, dtype=float),
            np.array(budget, dtype=float),
            np.array(trading),
            MARKET,
            previous_price,
            reference_price,
        )


def test_reserved_use_comes_first_and_the_whole_fleet_is_dispatched_in_one_merit_order():
    """Reservations are a price, not a place: lab 0's 100 reserved and its 30 spot run on host
    1's cheapest GPUs, host 0's idle. Host 0 keeps its contract's bill and buys the 100 its
    contract used from host 1 at the spot price."""
    a = Month.make().allocate(need=[130.0, 20.0], budget=[0.0, 0.0])
    assert a.inference == pytest.approx([130.0, 20.0]) and a.training == pytest.approx([0.0, 0.0])
    assert a.clearing.spot_inference == pytest.approx([30.0, 0.0])  # lab 0's 30 beyond its 100 reserved
    assert a.clearing.price == pytest.approx(0.8)  # the fleet's cheapest cohort covers everything
    assert a.used_by_cohort[0] == pytest.approx([0.0, 0.0])
    assert a.used_by_cohort[1] == pytest.approx([150.0, 0.0])
    assert a.spot_inference_by_host == pytest.approx([0.0, 130.0])
    assert a.short_inference_by_host == pytest.approx([100.0, 0.0])
    assert a.wholesale() == pytest.approx(np.array([[0.0, 100 * 0.8 * H], [0.0, 0.0]]))


def test_a_training_budget_trains_on_idle_reserved_capacity_and_its_cost_comes_out_of_the_spot_budget():
    """Lab 1 trains on the 30 reserved H100e its users leave idle (paid anyway); the rest of its
    budget buys spot. Demand beyond the $0.8 cohort (150) sets the price at the $1 ask, where
    the spot budget of 40 x $0.8 buys 32."""
    reserved_cost = 30 * 2.0 * H
    spot = 40 * 0.8 * H
    a = Month.make().allocate(need=[130.0, 20.0], budget=[0.0, reserved_cost + spot])
    assert a.clearing.price == pytest.approx(1.0)
    assert a.training == pytest.approx([0.0, 30.0 + 32.0])
    assert a.clearing.spot_training == pytest.approx([0.0, 32.0])
    assert a.used == pytest.approx(150.0 + 30.0 + 32.0)
    assert a.used_by_cohort[1] == pytest.approx([150.0, 0.0])
    assert a.used_by_cohort[0] == pytest.approx([62.0, 0.0])


def test_a_budget_below_the_reserved_cost_still_trains_on_the_reserved_capacity_but_buys_no_spot():
    a = Month.make().allocate(need=[130.0, 20.0], budget=[0.0, 1000.0])
    assert a.training == pytest.approx([0.0, 30.0])
    assert a.clearing.spot_training == pytest.approx([0.0, 0.0])
    assert a.clearing.spot_inference == pytest.approx([30.0, 0.0])


def test_without_a_training_budget_idle_reservations_are_not_trained_on_and_not_held_back():
    a = Month.make().allocate(need=[100.0, 0.0], budget=[0.0, 0.0])
    assert a.training == pytest.approx([0.0, 0.0]) and a.used == pytest.approx(100.0)
    assert a.used_by_cohort[1] == pytest.approx([100.0, 0.0])  # the cheapest GPUs, whoever reserved them


def test_labs_not_trading_buy_nothing():
    month = Month.make()
    month.book.terminate_lab(0)  # a bankrupt lab's contracts have ended
    a = month.allocate(need=[130.0, 20.0], budget=[1e6, 0.0], trading=(False, True))
    assert a.inference == pytest.approx([0.0, 20.0]) and a.training == pytest.approx([0.0, 0.0])
    assert a.clearing.spot_inference.sum() == 0.0 and a.clearing.spot_training.sum() == 0.0
    assert a.used == pytest.approx(20.0)  # lab 1's reserved use only


def test_a_host_short_of_its_committed_capacity_delivers_pro_rata():
    book = ContractBook()
    book.add(np.array([0, 1]), 0, np.array([120.0, 80.0]), 2.0, 12)  # 200 committed on 100 installed
    offers = [offer([100.0], [1.0]), offer([300.0], [0.5])]
    a = allocate(
        book,
        np.array([100.0, 300.0]),
        offers,
        np.array([100.0, 100.0]),
        np.zeros(2),
        np.array([True, True]),
        MARKET,
        1.0,
        0.0,
    )
    assert a.inference - a.clearing.spot_inference == pytest.approx([60.0, 40.0])  # half of each contract
    assert a.clearing.spot_inference == pytest.approx([40.0, 60.0])
    assert a.used_by_cohort[1] == pytest.approx([200.0]) and a.used == pytest.approx(200.0)
    # take-or-pay: the contracts are billed in full; host 0 buys its contracts' use from host 1
    bills = a.bills(book.bills(2, 2))
    assert bills[:, 0] == pytest.approx([120 * 2.0 * H, 80 * 2.0 * H])
    assert a.wholesale()[0, 1] == pytest.approx(100 * 0.5 * H)


def test_spot_bills_are_spread_over_hosts_by_what_they_supplied_beyond_their_contracts():
    month = Month.make()
    a = month.allocate(need=[250.0, 20.0], budget=[0.0, 0.0])  # 270 in all: 150 at $0.8, 120 at $1
    assert a.clearing.price == pytest.approx(1.0)
    assert a.spot_inference_by_host == pytest.approx([20.0, 130.0])
    reserved = month.book.bills(2, 2)
    bills = a.bills(reserved)
    spot = 150 * 1.0 * H
    assert bills[0] == pytest.approx(reserved[0] + spot * np.array([20.0, 130.0]) / 150)
    assert bills[1] == pytest.approx(reserved[1])
    assert a.wholesale() == pytest.approx(np.zeros((2, 2)))


def _legacy_and_recent(legacy: float, recent: float, budget: float):
    """One lab needing 150 H100e-months of inference and training on `budget` USD, against
    legacy GPUs asking $0.5 and recent ones asking $1 (capacities in H100e-months)."""
    return clear_spot(
        np.array([0.5, 1.0]),
        np.array([legacy, recent]),
        np.array([150.0]),
        np.array([budget]),
        12,
        recent=np.array([False, True]),
    )


def test_frontier_training_runs_only_on_recent_gpus_and_legacy_gpus_can_rent_for_less():
    """Legacy GPUs (200 at $0.5) serve the 150 of inference; training wants 100 H100e-months at
    $3 and only the 100 recent GPUs can run it, so the market clears at two prices: $3 for
    recent GPUs, $0.5 for legacy ones."""
    c = _legacy_and_recent(legacy=200.0, recent=100.0, budget=100 * 3.0 * H)
    assert (c.price, c.legacy_price) == pytest.approx((3.0, 0.5))
    assert c.training == pytest.approx([100.0]) and c.inference == pytest.approx([150.0])
    assert c.dispatched == pytest.approx([150.0, 100.0])
    assert c.dispatched_training == pytest.approx([0.0, 100.0])


def test_when_legacy_gpus_cannot_serve_users_alone_the_pools_clear_as_one_market():
    """100 legacy GPUs cannot serve 150 of inference: it spills onto recent GPUs and both pools
    clear at the recent ask; training still runs on recent GPUs only."""
    c = _legacy_and_recent(legacy=100.0, recent=300.0, budget=50 * 1.0 * H)
    assert c.price == c.legacy_price == pytest.approx(1.0)
    assert c.dispatched == pytest.approx([100.0, 100.0])
    assert c.dispatched_training == pytest.approx([0.0, 50.0])


def test_reservations_beyond_the_capacity_at_a_posted_price_share_it():
    """A posted price below clearing leaves 100 H100e-months offered for 150 of reserved
    inference and 50 of reserved training: together they get the 100, pro rata."""
    c = clear_spot(
        np.array([1.0, 5.0]),
        np.array([100.0, 100.0]),
        np.array([0.0]),
        np.array([0.0]),
        12,
        previous_price=1.0,
        adjustment=0.5,
        firm_inference=np.array([150.0]),
        firm_training=np.array([50.0]),
    )
    assert c.price < 5.0 and c.rationed
    assert c.inference == pytest.approx([75.0]) and c.training == pytest.approx([25.0])
    assert c.dispatched == pytest.approx([100.0, 0.0])


def random_month(rng: np.random.Generator):
    n_labs, n_hosts = int(rng.integers(1, 5)), int(rng.integers(1, 4))
    fleets = [rng.uniform(0, 100, rng.integers(1, 4)) for _ in range(n_hosts)]
    installed = np.array([caps.sum() for caps in fleets])
    book = ContractBook()
    for j in range(n_hosts):
        committed = rng.uniform(0, 1.5) * installed[j]  # sometimes more than installed
        shares = rng.dirichlet(np.ones(n_labs))
        book.add(np.arange(n_labs), j, committed * shares, float(rng.uniform(0.5, 4)), 12)
    need = rng.uniform(0, 150, n_labs) * (rng.random(n_labs) < 0.8)
    budget = rng.uniform(0, 3e5, n_labs) * (rng.random(n_labs) < 0.7)
    trading = rng.random(n_labs) < 0.85
    for i in np.flatnonzero(~trading):
        book.terminate_lab(int(i))  # as a bankruptcy does
    pooled = rng.random() < 0.5
    offers = [
        offer(
            list(caps),
            list(np.sort(rng.uniform(0.2, 3, caps.size))),
            list(rng.random(caps.size) < 0.6) if pooled else None,
        )
        for caps in fleets
    ]
    args = (book, installed, offers, need, budget, trading, MARKET)
    return args, float(rng.uniform(0.5, 5)), float(rng.uniform(0, 3))


@pytest.mark.parametrize("seed", range(40))
def test_allocation_conserves_compute_and_money_and_never_uses_more_than_a_cohort_has(seed):
    (book, installed, offers, need, budget, trading, market), previous, reference = random_month(
        np.random.default_rng(seed)
    )
    a = allocate(book, installed, offers, need, budget, trading, market, previous, reference)
    c = a.clearing
    used = sum(u.sum() for u in a.used_by_cohort)
    assert used == pytest.approx(a.used, abs=1e-9)
    for u, o in zip(a.used_by_cohort, offers, strict=True):
        assert np.all(u >= -1e-9) and np.all(u <= o.capacity + 1e-9)
    assert a.inference.sum() + a.training.sum() == pytest.approx(used, abs=1e-9)
    recent = np.concatenate([o.capacity * (True if o.recent is None else o.recent) for o in offers])
    assert np.all(c.dispatched_training <= recent + 1e-9)  # training only on recent GPUs
    assert c.legacy_price <= c.price + 1e-12
    assert np.all(a.inference <= need * (1 + 1e-12) + 1e-9)
    assert np.all(a.inference[~trading] == 0) and np.all(a.training[~trading] == 0)
    # money: every host is paid the spot price for what it supplied beyond its contracts and
    # pays it for what its contracts used beyond its supply; labs pay exactly that in all
    reserved = book.bills(need.size, installed.size)
    wholesale = a.wholesale()
    net = a.bills(reserved).sum(axis=0) - reserved.sum(axis=0) + wholesale.sum(axis=0) - wholesale.sum(axis=1)
    expected = H * (
        c.legacy_price * (a.spot_inference_by_host - a.short_inference_by_host)
        + c.price * (a.spot_training_by_host - a.short_training_by_host)
    )
    assert net == pytest.approx(expected, abs=1e-6)
    paid = H * (c.legacy_price * c.spot_inference.sum() + c.price * c.spot_training.sum())
    assert a.bills(reserved).sum() - reserved.sum() == pytest.approx(paid, abs=1e-6)


# --- the ledger -----------------------------------------------------------------------


@dataclass
class Account:
    cash: float = 0.0


def test_every_transfer_moves_money_so_all_balances_sum_to_zero():
    ledger = Ledger()
    agents = [Account(), Account(), Account()]
    rng = np.random.default_rng(5)
    accounts = [*agents, *EXTERNAL]
    for _ in range(200):
        payer, payee = rng.choice(len(accounts), 2, replace=False)
        ledger.transfer(accounts[payer], accounts[payee], float(rng.uniform(0, 1e6)), "any")
    assert sum(ledger.external.values()) + sum(a.cash for a in agents) == pytest.approx(0.0, abs=1e-6)


def test_a_transfer_debits_the_payer_credits_the_payee_and_returns_the_amount():
    ledger = Ledger()
    lab, host = Account(100.0), Account()
    assert ledger.transfer(lab, host, 40.0, "compute_rent") == 40.0
    assert ledger.transfer("end_users", lab, 25.0, "ai_spending") == 25.0
    assert (lab.cash, host.cash, ledger.external["end_users"]) == (85.0, 40.0, -25.0)


@pytest.mark.parametrize("amount", [-1.0, math.nan, math.inf])
def test_negative_or_non_finite_transfers_are_refused_and_move_nothing(amount):
    ledger = Ledger()
    payer, payee = Account(10.0), Account()
    with pytest.raises(ValueError, match="invalid transfer"):
        ledger.transfer(payer, payee, amount, "bug")
    assert (payer.cash, payee.cash) == (10.0, 0.0) and ledger.flow("bug") == 0.0


def test_flows_are_recorded_by_kind_for_the_step_and_in_total():
    ledger = Ledger()
    lab, host = Account(), Account()
    ledger.transfer("investors", lab, 100.0, "funding")
    ledger.transfer(lab, host, 30.0, "compute_rent")
    ledger.transfer(lab, host, 20.0, "compute_rent")
    ledger.transfer(lab, host, 0.0, "nothing")
    assert ledger.flow("compute_rent") == 50.0 and ledger.flow("funding") == 100.0
    assert ledger.flow("nothing") == 0.0 and "nothing" not in ledger.step_flows
    ledger.new_step()
    assert ledger.flow("compute_rent") == 0.0
    ledger.transfer(lab, host, 5.0, "compute_rent")
    assert ledger.flow("compute_rent") == 5.0
    assert ledger.total_flows == {"funding": 100.0, "compute_rent": 55.0}


# --- bubble indicators ------------------------------------------------------------------


def tracker(**cfg) -> BubbleTracker:
    return BubbleTracker(BubbleConfig(**cfg))


def test_a_glut_month_is_overcapacity_with_demand_below_capacity():
    t = tracker(utilization_threshold=0.6)
    s = t.update(capacity=100.0, demand=50.0, utilization=0.5, capex=1.0)
    assert (s["overcapacity"], s["weak_demand"], s["glut"]) == (True, True, True)


def test_idle_capacity_with_demand_above_capacity_is_not_a_glut():
    """Rationing at a posted price above clearing idles GPUs that demand would fill."""
    t = tracker(utilization_threshold=0.6)
    s = t.update(capacity=100.0, demand=130.0, utilization=0.5, capex=1.0)
    assert (s["overcapacity"], s["weak_demand"], s["glut"]) == (True, False, False)


def test_busy_capacity_is_no_glut_however_demand_compares():
    t = tracker(utilization_threshold=0.6)
    s = t.update(capacity=100.0, demand=90.0, utilization=0.9, capex=1.0)
    assert (s["overcapacity"], s["weak_demand"], s["glut"]) == (False, True, False)


def test_capex_drawdown_is_measured_on_trailing_twelve_months_from_its_peak():
    t = tracker()
    for _ in range(11):
        s = t.update(100, 100, 0.9, capex=10.0)
        assert s["capex_drawdown"] == 0.0  # no full year yet
    s = t.update(100, 100, 0.9, capex=10.0)
    assert s["capex_trailing_12m_usd"] == pytest.approx(120.0) and s["capex_drawdown"] == 0.0
    for _ in range(6):
        s = t.update(100, 100, 0.9, capex=0.0)
    assert s["capex_trailing_12m_usd"] == pytest.approx(60.0)
    assert s["capex_drawdown"] == pytest.approx(0.5)


def test_a_lumpy_delivery_is_not_a_capex_collapse_while_it_is_in_the_trailing_year():
    t = tracker()
    for _ in range(11):
        t.update(100, 100, 0.9, capex=0.0)
    t.update(100, 100, 0.9, capex=120.0)
    for month in range(11):
        s = t.update(100, 100, 0.9, capex=0.0)
        assert s["capex_trailing_12m_usd"] == pytest.approx(120.0) and s["capex_drawdown"] == 0.0, month
    s = t.update(100, 100, 0.9, capex=0.0)
    assert s["capex_drawdown"] == pytest.approx(1.0)


@pytest.mark.parametrize("marginal", [False, True])
def test_sunk_reservation_bills_set_the_token_price_only_on_average_cost(marginal):
    """Two runs that differ only in what reservations cost (the term premium): until the bills'
    effects reach the spot market, labs pricing on marginal cost (the smoothed spot price) quote
    the same token price, and labs pricing on the average paid do not."""
    from aibubble import AIMarketModel

    prices = []
    for premium in (0.0, 0.5):
        overrides = {"labs.price_on_marginal_cost": marginal, "labs.term_premium": premium}
        model = AIMarketModel(scenario="baseline", rng=1, n_users=500, steps=3, overrides=overrides)
        model.run_model()
        prices.append(model.model_frame()["token_price_usd_per_mtok"].iloc[2])
    # month 2's price: set after month 1's bills, before they move any clearing
    assert bool(prices[0] == prices[1]) == marginal, prices
