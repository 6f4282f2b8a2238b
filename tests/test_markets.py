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


def test_posted_price_moves_at_most_the_allowed_factor_and_idles_capacity():
    c = clear_spot(ASK, CAP, np.array([50.0]), np.array([0.0]), 12, previous_price=4.0, max_change=1.25)
    assert c.price == pytest.approx(3.2)
    assert c.dispatched.sum() == pytest.approx(50.0)


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
    c = clear_spot(np.array([0.1]), np.array([1e6]), np.array([0.0]), budget, 12, None, None, 1.0, elasticity)
    assert c.price == pytest.approx(price)
    assert c.training.sum() == pytest.approx(trained, rel=1e-4)  # 100 x (1 / 0.1)^elasticity


@pytest.mark.parametrize(("elasticity", "price"), [(0.5, 0.25), (1.0, 0.5)])
def test_training_fills_room_below_the_reference_at_the_closed_form_price(elasticity, price):
    """Room 200 H100e-months, 100 planned at the reference 1: p = 1 x (100 / 200)^(1 / elasticity)."""
    budget = np.array([730.0 * 100])
    c = clear_spot(
        np.array([0.1]), np.array([300.0]), np.array([100.0]), budget, 12, None, None, 1.0, elasticity
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
            np.array([0.1]), np.array([300.0]), np.array([need]), budget, 12, None, None, 1.0, e
        ).price

    needs = np.linspace(150.0, 250.0, 101)
    smooth = np.array([price(n, elasticity) for n in needs])
    assert np.max(np.abs(np.diff(np.log(smooth)))) < 0.05
    kinked = np.array([price(n, 0.0) for n in needs])
    assert np.max(np.abs(np.diff(np.log(kinked)))) > 1.0  # the jump: 1 $/h -> 0.1 $/h


def _median_monthly_move(elasticity: float) -> float:
    m = AIMarketModel(
        scenario="baseline",
        rng=1,
        overrides={"compute_market.training_elasticity_below_reference": elasticity},
    )
    while m.running:
        m.step()
    spot = m.model_frame()["spot_price_usd_per_gpu_hour"].to_numpy()[60:]
    return float(np.median(np.abs(np.diff(np.log(spot)))))


def test_without_the_kink_the_spot_price_is_not_stuck_at_its_monthly_limit():
    limit = np.log(AIMarketModel(scenario="baseline").config.compute_market.max_price_change_per_month)
    assert _median_monthly_move(1.0) < 0.5 * limit
    assert _median_monthly_move(0.0) == pytest.approx(limit)  # the sawtooth of the default (README)


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
    c = clear_spot(ask, cap, inference, budget, 12.0, None, None, reference, below)
    assert np.all(c.dispatched <= cap + 1e-6) and np.all(c.dispatched >= 0)
    assert np.all(c.dispatched[ask > c.price] == 0)
    served = c.inference.sum() + c.training.sum()
    assert served == pytest.approx(c.dispatched.sum(), rel=1e-9, abs=1e-6)
    assert np.all(c.inference <= inference + 1e-9)
    assert c.demand >= served - 1e-6
    more = clear_spot(ask, cap * 2, inference, budget, 12.0, None, None, reference, below)
    assert more.price <= c.price + 1e-12  # more capacity never raises the price


def vendor(**cfg) -> GpuVendor:
    gc = GpuMarketConfig(**cfg)
    return GpuVendor(gc, EfficiencyConfig(), gc.production_h100e_per_month)


def test_vendor_ships_oldest_orders_first_after_the_minimum_lead_time():
    v = vendor(production_h100e_per_month=100.0, min_lead_time_months=2, production_growth_per_year=1.0)
    v.place(buyer=1, h100e=150.0, step=0)
    v.place(buyer=2, h100e=50.0, step=1)
    assert v.ship(1) == []
    first = v.ship(2)
    assert [(o.buyer, o.h100e) for o in first] == [(1, 100.0)]
    second = v.ship(3)
    assert [(o.buyer, o.h100e) for o in second] == [(1, 50.0), (2, 50.0)]
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
    assert v.lead_time_months() == pytest.approx(calm_lead + 15)


def test_hardware_price_performance_doubles_on_schedule():
    v = vendor()
    years = v.hw.hardware_doubling_years
    assert v.hardware_performance(12 * years) == pytest.approx(2.0)
    assert v.price_usd_per_h100e(round(12 * years)) == pytest.approx(v.cfg.price_usd_per_h100e / 2, rel=0.02)
