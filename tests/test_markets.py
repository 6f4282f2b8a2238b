"""Market mechanisms as pure functions: the spot market and the GPU vendor's order book."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.compute_market import HOURS_PER_MONTH, clear_spot
from model.config import EfficiencyConfig, GpuMarketConfig
from model.gpu_market import GpuVendor

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


@settings(max_examples=200, deadline=None)
@given(
    asks=st.lists(st.floats(0.05, 5.0), min_size=1, max_size=8),
    caps=st.lists(st.floats(0.0, 1e4), min_size=8, max_size=8),
    need=st.lists(st.floats(0.0, 1e4), min_size=1, max_size=4),
    budgets=st.lists(st.floats(0.0, 1e8), min_size=4, max_size=4),
)
def test_clearing_never_sells_more_than_offered_nor_more_than_wanted(asks, caps, need, budgets):
    ask = np.array(asks)
    cap = np.array(caps[: len(asks)])
    inference = np.array(need)
    budget = np.array(budgets[: len(need)])
    c = clear_spot(ask, cap, inference, budget, max_price=12.0)
    assert np.all(c.dispatched <= cap + 1e-6) and np.all(c.dispatched >= 0)
    assert np.all(c.dispatched[ask > c.price] == 0)
    served = c.inference.sum() + c.training.sum()
    assert served == pytest.approx(c.dispatched.sum(), rel=1e-9, abs=1e-6)
    assert np.all(c.inference <= inference + 1e-9)
    assert c.demand >= served - 1e-6
    more = clear_spot(ask, cap * 2, inference, budget, max_price=12.0)
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
