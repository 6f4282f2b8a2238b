"""Market mechanisms as pure functions: the spot market and the GPU vendor's order book."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aibubble import AIMarketModel
from aibubble.compute_market import HOURS_PER_MONTH, clear_spot
from aibubble.config import EfficiencyConfig, GpuMarketConfig
from aibubble.gpu_market import GpuVendor

ASK = np.array([0.5, 1.0, 2.0])
CAP = np.array([100.0, 100.0, 100.0])


def test_glut_clears_at_the_marginal_operating_cost_cheapest_first():
    c = clear_spot(
        ASK, CAP, inference_need=np.array([150.0]), training_budget_usd=np.array([0.0]), max_price=12
    )
    assert c.price == 1.0
    assert np.allclose(c.dispatched, [100.0, 50.0, 0.0])
    assert not c.rationed


def test_scarcity_price_makes_training_budgets_fill_the_remaining_capacity():
    budget = 100.0 * 5.0 * HOURS_PER_MONTH  # buys 100 H100e-months at $5/h
    c = clear_spot(ASK, CAP, np.array([200.0]), np.array([budget]), max_price=12)
    assert c.price == pytest.approx(5.0)
    assert c.training.sum() == pytest.approx(100.0)
    assert c.dispatched.sum() == pytest.approx(300.0)


def test_demand_beyond_supply_at_the_cap_is_rationed_pro_rata():
    c = clear_spot(ASK, CAP, np.array([400.0, 200.0]), np.array([0.0, 0.0]), max_price=12)
    assert c.rationed and c.price == 12
    assert np.allclose(c.inference, [200.0, 100.0])


def test_partial_adjustment_closes_its_share_of_the_log_gap_and_idles_capacity_above_clearing():
    """Clearing is the $0.5 ask; from $4 a posted price with adjustment 1/3 closes a third of
    the log gap: 4^(2/3) x 0.5^(1/3) = $2. At that price demand is still the 50 wanted."""
    c = clear_spot(ASK, CAP, np.array([50.0]), np.array([0.0]), 12, previous_price=4.0, adjustment=1 / 3)
    assert c.price == pytest.approx(4 ** (2 / 3) * 0.5 ** (1 / 3))
    assert c.dispatched.sum() == pytest.approx(50.0)
    cleared = clear_spot(ASK, CAP, np.array([50.0]), np.array([0.0]), 12, previous_price=4.0)
    assert cleared.price == 0.5  # adjustment 1: the posted price is the clearing price


def test_training_runs_do_not_grow_below_the_reference_price():
    budget = np.array([730.0 * 100])  # $73k buys 100 H100e-months at $1/h
    c = clear_spot(np.array([0.1]), np.array([1e6]), np.array([0.0]), budget, 12, reference_price=1.0)
    assert c.price == pytest.approx(0.1)
    assert c.training.sum() == pytest.approx(100.0)  # planned at the reference price, not 1,000


@pytest.mark.parametrize(
    ("elasticity", "price", "trained"), [(0.0, 0.1, 100.0), (0.5, 0.1, 316.23), (1.0, 0.1, 1000.0)]
)
def test_below_the_reference_labs_take_extra_compute_with_the_stated_elasticity(elasticity, price, trained):
    budget = np.array([730.0 * 100])  # buys 100 H100e-months at the $1/h reference
    c = clear_spot(np.array([0.1]), np.array([1e6]), np.array([0.0]), budget, 12, None, 1.0, 1.0, elasticity)
    assert c.price == pytest.approx(price)
    assert c.training.sum() == pytest.approx(trained, rel=1e-4)  # 100 x (1 / 0.1)^elasticity


@pytest.mark.parametrize(("elasticity", "price"), [(0.5, 0.25), (1.0, 0.5)])
def test_training_fills_room_below_the_reference_at_the_closed_form_price(elasticity, price):
    """Room 200 H100e-months, 100 planned at the reference 1: p = 1 x (100 / 200)^(1 / elasticity)."""
    budget = np.array([730.0 * 100])
    c = clear_spot(
        np.array([0.1]), np.array([300.0]), np.array([100.0]), budget, 12, None, 1.0, 1.0, elasticity
    )
    assert c.price == pytest.approx(price)
    assert c.training.sum() == pytest.approx(200.0)
    assert c.dispatched.sum() == pytest.approx(300.0)


@pytest.mark.parametrize("elasticity", [0.25, 0.5, 1.0])
def test_with_extra_training_the_price_moves_smoothly_with_demand(elasticity):
    """No kink: 1 % more inference need never moves the price by more than a few %. With
    elasticity 0 the price jumps from the scarcity price to the ask as the need crosses the
    point where planned training just fills the room."""
    budget = np.array([730.0 * 100])

    def price(need: float, e: float) -> float:
        return clear_spot(
            np.array([0.1]), np.array([300.0]), np.array([need]), budget, 12, None, 1.0, 1.0, e
        ).price

    needs = np.linspace(150.0, 250.0, 101)
    smooth = np.array([price(n, elasticity) for n in needs])
    assert np.max(np.abs(np.diff(np.log(smooth)))) < 0.05
    kinked = np.array([price(n, 0.0) for n in needs])
    assert np.max(np.abs(np.diff(np.log(kinked)))) > 1.0  # the jump: 1 $/h -> 0.1 $/h


def _spot_moves(elasticity: float) -> np.ndarray:
    m = AIMarketModel(
        scenario="baseline",
        rng=1,
        overrides={"compute_market.training_elasticity_below_reference": elasticity},
    )
    while m.running:
        m.step()
    spot = m.model_frame()["spot_price_usd_per_gpu_hour"].to_numpy()[24:]
    return np.abs(np.diff(np.log(spot)))


def test_without_the_kink_the_baseline_spot_price_has_no_sawtooth():
    """The default (no kink) moves the spot price by more than 25 % in few months after its
    first two years; the kinked demand of `training_elasticity_below_reference: 0` jumps
    between an ask and the scarcity price (the sawtooth of docs/ODD.md 7.7)."""
    smooth, kinked = _spot_moves(1.0), _spot_moves(0.0)
    assert np.mean(smooth > np.log(1.25)) < 0.1
    assert np.mean(kinked > np.log(1.25)) > 2 * np.mean(smooth > np.log(1.25))


@settings(max_examples=200, deadline=None)
@given(
    asks=st.lists(st.floats(0.05, 5.0), min_size=1, max_size=8),
    caps=st.lists(st.floats(0.0, 1e4), min_size=8, max_size=8),
    need=st.lists(st.floats(0.0, 1e4), min_size=1, max_size=4),
    budgets=st.lists(st.floats(0.0, 1e8), min_size=4, max_size=4),
    reference=st.sampled_from([0.0, 0.3, 2.0]),
    below=st.sampled_from([0.0, 0.5, 1.0]),
)
def test_clearing_never_sells_more_than_offered_nor_more_than_wanted(
    asks, caps, need, budgets, reference, below
):
    ask = np.array(asks)
    cap = np.array(caps[: len(asks)])
    inference = np.array(need)
    budget = np.array(budgets[: len(need)])
    c = clear_spot(ask, cap, inference, budget, 12.0, None, 1.0, reference, below)
    assert np.all(c.dispatched <= cap + 1e-6) and np.all(c.dispatched >= 0)
    assert np.all(c.dispatched[ask > c.price] == 0)
    served = c.inference.sum() + c.training.sum()
    assert served == pytest.approx(c.dispatched.sum(), rel=1e-9, abs=1e-6)
    assert np.all(c.inference <= inference + 1e-9)
    assert c.demand >= served - 1e-6
    more = clear_spot(ask, cap * 2, inference, budget, 12.0, None, 1.0, reference, below)
    assert more.price <= c.price + 1e-12  # more capacity never raises the price


def vendor(**cfg) -> GpuVendor:
    gc = GpuMarketConfig(**cfg)
    return GpuVendor(gc, EfficiencyConfig(), gc.production_h100e_per_month)


def test_vendor_ships_oldest_orders_first_after_the_minimum_lead_time():
    v = vendor(
        production_h100e_per_month=100.0,
        min_lead_time_months=2,
        production_growth_per_year=1.0,
        production_cut_per_year=0.0,
    )
    v.place(buyer=1, h100e=150.0, step=0)
    v.place(buyer=2, h100e=50.0, step=1)
    assert v.ship(1) == []
    # 100 GPUs a month of month-0 performance: 100 x 2^(t / 30) H100e in month t
    made = [100.0 * 2 ** (t / 30) for t in (2, 3)]
    first = v.ship(2)
    assert [(o.buyer, o.h100e) for o in first] == [(1, pytest.approx(made[0]))]
    second = v.ship(3)
    assert [(o.buyer, o.h100e) for o in second] == [(1, pytest.approx(150.0 - made[0])), (2, 50.0)]
    assert v.backlog_h100e == 0


def test_cancellation_takes_the_buyers_newest_orders_and_conserves_the_book():
    v = vendor()
    v.place(1, 100.0, 0)
    v.place(2, 70.0, 0)
    v.place(1, 40.0, 1)
    cancelled = v.cancel(1, 60.0)
    assert [o.h100e for o in cancelled] == [40.0, 20.0]
    assert v.pending(1)[0] == pytest.approx(80.0)
    assert v.backlog_h100e == pytest.approx(150.0)


def test_backlog_raises_the_gpu_price_and_the_lead_time():
    v = vendor(production_h100e_per_month=100.0, normal_backlog_months=3.0)
    calm_price, calm_lead = v.price_usd_per_h100e(0), v.lead_time_months()
    v.place(1, 1500.0, 0)  # 15 months of production
    assert v.price_usd_per_h100e(0) > calm_price
    assert calm_lead == v.cfg.min_lead_time_months  # nothing ahead: the time to build and ship
    assert v.lead_time_months() == pytest.approx(15)  # first in, first out: 15 months ahead


def test_hardware_price_performance_doubles_on_schedule():
    """At a normal backlog the price carries neither premium nor discount (with an empty book
    it would be 20 % off), so the price per H100e halves with each doubling of performance."""
    v = vendor(production_h100e_per_month=100.0, normal_backlog_months=3.0)
    v.place(1, 300.0, 0)  # 3 months of production: the normal backlog
    years = v.hw.hardware_doubling_years
    assert v.hardware_performance(12 * years) == pytest.approx(2.0)
    assert v.hardware_performance(24 * years) == pytest.approx(4.0)
    assert v.price_usd_per_h100e(0) == pytest.approx(v.cfg.price_usd_per_h100e)
    step = round(12 * years)
    assert v.price_usd_per_h100e(step) == pytest.approx(
        v.cfg.price_usd_per_h100e / 2 ** (step / (12 * years))
    )
    assert v.price_usd_per_h100e(step) == pytest.approx(v.cfg.price_usd_per_h100e / 2, rel=0.02)


def test_a_cancellation_cuts_only_the_cancellable_part_and_keeps_the_firm_part():
    v = vendor()
    v.place(1, 100.0, 0, firm_share=0.5)  # 50 firm
    v.place(2, 70.0, 0, firm_share=0.0)
    v.place(1, 40.0, 1, firm_share=0.75)  # 30 firm
    assert v.firm(1) == pytest.approx(80.0) and v.firm(2) == 0.0
    cancelled = v.cancel(1, 200.0)  # more than its cancellable 10 + 50
    assert [o.h100e for o in cancelled] == pytest.approx([10.0, 50.0])
    assert [o.firm for o in cancelled] == [0.0, 0.0]
    assert v.pending(1)[0] == pytest.approx(80.0) == v.firm(1)
    assert [o.h100e for o in v.backlog] == pytest.approx([50.0, 70.0, 30.0])
    assert v.cancel(1, 10.0) == []  # a fully firm book cancels nothing
    assert v.backlog_h100e == pytest.approx(150.0)


def test_shipping_fulfils_the_firm_part_of_an_order_first():
    v = vendor(
        production_h100e_per_month=100.0,
        min_lead_time_months=0,
        production_growth_per_year=1.0,
        production_cut_per_year=0.0,
    )
    v.place(1, 150.0, 0, firm_share=0.8)  # 120 firm
    (shipped,) = v.ship(0)
    assert shipped.h100e == pytest.approx(100.0)
    (left,) = v.backlog
    assert left.h100e == pytest.approx(50.0) and left.firm == pytest.approx(20.0)  # 120 - 100
    (cancelled,) = v.cancel(1, 50.0)
    assert cancelled.h100e == pytest.approx(30.0) and v.firm(1) == pytest.approx(20.0)
    v.place(2, 60.0, 0, firm_share=0.5)  # 30 firm
    v.ship(1)  # ships the 20 left of the first and 60 of the second
    assert v.backlog == [] and v.firm(1) == v.firm(2) == 0.0


@pytest.mark.parametrize(
    ("backlog", "log_change"),
    [
        (0.0, np.log(0.5) / 12),  # empty book: the full 50 % a year
        (150.0, np.log(0.5) / 12 * 0.5),  # half the normal backlog: half the rate
        (300.0, 0.0),  # the normal backlog: unchanged
        (600.0, np.log(2.0) / 12),  # backlogged: grows 2x a year (no decay at month 0)
    ],
)
def test_production_is_cut_below_a_normal_backlog_and_grows_above_it(backlog, log_change):
    """Production 100 H100e a month, normal backlog 3 months; orders placed at 0 do not ship at
    0 (minimum lead time 2), so the backlog after shipping is what was placed."""
    v = vendor(
        production_h100e_per_month=100.0,
        normal_backlog_months=3.0,
        min_lead_time_months=2,
        production_growth_per_year=2.0,
        production_cut_per_year=0.5,
    )
    if backlog:
        v.place(1, backlog, 0)
    assert v.ship(0) == []
    assert v.production_h100e_per_month == pytest.approx(100.0 * np.exp(log_change))


def test_production_grows_at_its_sourced_rate_through_the_sourced_months_then_halves_its_rate():
    """2x a year of physical output (Epoch's 2024-25) through month 24, then the log rate halves
    every half-life (4 years): 2^(1/2) a year four years on."""
    v = vendor(production_growth_per_year=2.0, production_growth_halflife_years=4.0)
    for month in (0, 12, 24):
        assert 12 * v.monthly_growth(month) == pytest.approx(np.log(2.0))
    assert 12 * v.monthly_growth(24 + 48) == pytest.approx(np.log(2.0) / 2)
    assert 12 * v.monthly_growth(24 + 96) == pytest.approx(np.log(2.0) / 4)


def test_a_year_with_an_empty_order_book_cuts_production_by_the_yearly_rate():
    """Physical output halves in a year; in H100e it is that times a year of price-performance."""
    v = vendor(production_h100e_per_month=100.0, production_cut_per_year=0.5)
    for step in range(12):
        v.ship(step)
    assert v.capacity == pytest.approx(50.0)
    v.month = 12
    assert v.production_h100e_per_month == pytest.approx(50.0 * 2 ** (1 / 2.5))


def test_an_expansion_comes_on_line_after_its_lag_and_the_pipe_at_month_0_is_full():
    """With a 6-month lag the first six months bring the expansions decided before the run (at
    the sourced rate, however empty the book is now), less this month's cut; an expansion
    decided on a long backlog in month 6 comes on line in month 12, not before."""
    lag, cut = 6, 0.5
    v = vendor(production_h100e_per_month=100.0, expansion_lag_months=lag, production_cut_per_year=cut)
    g, c = np.log(2.0) / 12, np.log(1 - cut) / 12  # empty book: the full cut
    for step in range(lag):
        v.ship(step)
        assert v.capacity == pytest.approx(100.0 * np.exp((step + 1) * (g + c)))
    at_6 = v.capacity
    v.place(1, 1e9, lag)  # a long backlog from month 6 on
    for step in range(lag, 2 * lag):
        v.ship(step)  # decided each month, none on line yet; backlogged, so no cut either
        assert v.capacity == pytest.approx(at_6)
    v.ship(2 * lag)
    assert v.capacity == pytest.approx(at_6 * np.exp(g))


def test_without_a_lag_an_expansion_answers_this_months_backlog():
    """expansion_lag_months = 0 is the rule before it: grow at once while backlogged."""
    v = vendor(production_h100e_per_month=100.0, expansion_lag_months=0)
    assert len(v._expansions) == 0
    v.place(1, 1e6, 0)
    v.ship(0)
    assert v.capacity == pytest.approx(100.0 * 2 ** (1 / 12))


def test_production_in_h100e_grows_with_price_performance_at_a_fixed_physical_output():
    """A later GPU is more H100e: at a normal backlog the physical output is unchanged, and
    the H100e it makes double every `hardware_doubling_years` (2.5 by default)."""
    v = vendor(production_h100e_per_month=100.0, normal_backlog_months=3.0, min_lead_time_months=0)
    v.month = 30
    assert v.production_h100e_per_month == pytest.approx(200.0)


@pytest.mark.parametrize(
    ("backlog", "factor"),
    [
        (0.0, 0.8),  # 0.15 x (0 - 3) = -0.45, capped at the 20 % discount
        (200.0, 0.85),  # 0.15 x (2 - 3): 15 % off
        (300.0, 1.0),  # the normal backlog
        (500.0, 1.3),  # 0.15 x (5 - 3): a 30 % premium
        (1500.0, 2.0),  # 0.15 x (15 - 3) = 1.8, capped at the 100 % premium
    ],
)
def test_the_gpu_price_is_discounted_below_a_normal_backlog_and_marked_up_above_it(backlog, factor):
    v = vendor(
        production_h100e_per_month=100.0,
        normal_backlog_months=3.0,
        price_backlog_sensitivity=0.15,
        max_price_discount=0.2,
        max_price_premium=1.0,
    )
    if backlog:
        v.place(1, backlog, 0)
    assert v.price_usd_per_h100e(0) == pytest.approx(v.cfg.price_usd_per_h100e * factor)
