"""The analyst's view (model/finance.py): closed forms by hand, then the full model's cash record.

IRR, NPV, payback, break-even rent, economic life and the revenue gap are checked against
values computed by hand for constructed cash flows and markets; the vintage record is checked
against the ledger of a full run (costs are the capex paid, margins the rent less operating
cost), and the run folder's finance page against what a reader needs (titles, units, axes).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from aibubble import AIMarketModel, finance
from aibubble.config import load_config
from aibubble.experiments.finance_plots import finance_dashboard
from aibubble.measures import HOURS_PER_MONTH

CFG = load_config("baseline")


def test_irr_npv_and_payback_of_a_constructed_cohort_match_hand_computed_values():
    # 100 paid at delivery, then 60 a year later and 60 two years later
    flows = np.zeros(25)
    flows[0], flows[12], flows[24] = -100.0, 60.0, 60.0
    # -100 + 60 x + 60 x^2 = 0 with x = 1 / (1 + r) and r the rate per year
    x = (-60 + math.sqrt(60**2 + 4 * 60 * 100)) / (2 * 60)
    assert finance.irr_per_year(flows) == pytest.approx(1 / x - 1, rel=1e-9)
    # 100 paid, then 5 a month for 24 months: the NPV at the IRR's monthly rate is zero
    flows = np.concatenate([[-100.0], np.full(24, 5.0)])
    monthly = (1 + finance.irr_per_year(flows)) ** (1 / 12) - 1
    assert float(finance.npf.npv(monthly, flows)) == pytest.approx(0.0, abs=1e-9)
    rate = 0.01
    by_hand = -100 + sum(5 / (1 + rate) ** k for k in range(1, 25))
    assert float(finance.npf.npv(rate, flows)) == pytest.approx(by_hand, rel=1e-12)
    assert finance.payback_month(flows) == 20  # 20 x 5 = 100
    assert math.isnan(finance.payback_month(np.concatenate([[-100.0], np.full(10, 5.0)])))
    assert math.isnan(finance.irr_per_year(np.full(5, 5.0)))  # never negative: no IRR


def test_breakeven_rent_repays_the_gpu_with_the_cost_of_capital_over_its_book_life():
    cost, opex = 26_000.0, 0.45
    rent = float(finance.breakeven_rent(cost, opex, CFG))
    hs = CFG.hyperscalers
    r = finance.monthly_rate(hs.discount_rate_per_year)
    s = finance.survival_per_month(CFG)
    k = np.arange(1, hs.book_life_months + 1)
    pv = ((rent - opex) * hs.target_utilization * HOURS_PER_MONTH * s**k / (1 + r) ** k).sum()
    assert pv == pytest.approx(cost, rel=1e-10)
    # the Latent Space breakeven, ~$1.65 per H100-hour at a 12 % IRR, is of this order
    assert 1.0 < rent < 2.5


def test_economic_life_is_when_the_falling_rent_meets_operating_cost():
    g = finance.rent_decline_per_month(CFG)
    assert g == pytest.approx(2 ** (-1 / (12 * CFG.efficiency.hardware_doubling_years)))
    life = float(finance.economic_life(2.0, 1.0, CFG))  # rent halves in one doubling time
    assert life == pytest.approx(12 * CFG.efficiency.hardware_doubling_years)
    assert float(finance.economic_life(0.4, 0.5, CFG)) == 0.0  # already below operating cost
    assert float(finance.economic_life(1e6, 0.5, CFG)) == CFG.hyperscalers.max_age_months


def _market(months: int, capex: float, spending: float) -> pd.DataFrame:
    """A constructed model frame: constant monthly capex (a quarter of it on shells) and AI
    spending, nothing else moving."""
    n = months + 1
    return pd.DataFrame(
        {
            "year": CFG.run.start_year + np.arange(n) / 12,
            "capex_usd": capex,
            "shell_capex_usd": capex / 4,
            "ai_spending_usd": spending,
            "compute_rent_usd": 1e9,
            "fleet_opex_usd": 2e8,
            "builder_borrowing_usd": capex / 4,
            "lab_commitments_usd": 36 * spending,
            "compute_used_h100e": 1e6,
            "spot_price_usd_per_gpu_hour": 2.0,
            "gpu_price_usd_per_h100e": 26_000.0,
            "utilization": 0.85,
        }
    )


def test_revenue_gap_and_gauges_of_a_constructed_market_match_their_formulas():
    capex, spending = 30e9, 5e9
    fin = finance.finance_frame(_market(24, capex, spending), CFG)
    last = fin.iloc[-1]
    f = CFG.finance
    # Cahn's multiple applies to the GPUs; it stands for the shells and power around them
    required = 12 * 0.75 * capex * f.datacentre_cost_multiple / (1 - f.end_user_gross_margin)
    assert last["required_revenue_usd_per_year"] == pytest.approx(required)  # = 36 x monthly capex
    assert last["revenue_gap_usd_per_year"] == pytest.approx(required - 12 * spending)
    assert last["capex_to_ai_revenue"] == pytest.approx(capex / spending)
    assert last["debt_funded_share_of_capex"] == pytest.approx(0.25)
    assert last["lab_commitments_to_revenue"] == pytest.approx(3.0)  # 36 months of revenue = 3 years
    hs = CFG.hyperscalers
    core = hs.core_cash_flow_usd_per_month * hs.core_cash_flow_growth_per_year ** (np.arange(13, 25) / 12)
    assert last["capex_to_operating_cash_flow"] == pytest.approx(12 * capex / (core.sum() + 12 * (1e9 - 2e8)))
    assert last["realised_rent_usd_per_gpu_hour"] == pytest.approx(1e9 / 1e6 / HOURS_PER_MONTH)
    assert fin.iloc[0].isna()["capex_to_ai_revenue"]  # the state before month 1 carries no flows
    warned = finance.warnings(last, CFG)
    assert warned == {
        "capex_to_ai_revenue": True,  # 6 > 0.25
        "capex_to_operating_cash_flow": False,
        "debt_funded_share_of_capex": False,
        "lab_commitments_to_revenue": True,  # 3 years > 2
    }


@pytest.fixture(scope="module")
def glut_run() -> AIMarketModel:
    model = AIMarketModel(
        config=load_config("sudden-100x", {"users.n_segments": 1000, "run.steps": 72}), rng=5
    )
    while model.running:
        model.step()
    return model


def test_the_vintage_record_reconciles_with_the_ledger_of_a_full_run(glut_run):
    m = glut_run
    frame = m.model_frame()
    book = m.vintages
    in_run = book.vintages >= 0
    gpus = frame["capex_usd"] - frame["shell_capex_usd"]  # a vintage is its GPUs; shells are apart
    assert book.cost[in_run].sum() == pytest.approx(gpus.sum(), rel=1e-12)
    margins = book.margin.sum(axis=0)[1 : len(frame)]
    assert np.allclose(margins, (frame["compute_rent_usd"] - frame["fleet_opex_usd"]).iloc[1:], rtol=1e-9)
    assert m.in_service_by_vintage().sum() == pytest.approx(m.total_installed, rel=1e-12)


def test_vintages_have_an_irr_npv_and_payback_consistent_with_their_cash(glut_run):
    table = glut_run.vintage_frame()
    frame = glut_run.model_frame()
    delivered = frame.index[frame["gpu_deliveries_h100e"] > 0]
    assert list(table["vintage"]) == sorted(
        {2024 + int(step) // 12 for step in delivered}
    )  # a row per delivery year
    assert (table["margin_to_date_usd"] >= 0).all()
    paid = table["margin_to_date_usd"] >= table["cost_usd"]
    # a vintage that has earned its cost back has a non-negative IRR so far, and vice versa
    assert ((table["realised_irr_per_year"] >= 0) == paid).all()
    # NPV at the cost of capital is positive exactly when the expected IRR beats it
    beats = table["expected_irr_per_year"] > CFG.hyperscalers.discount_rate_per_year
    assert ((table["npv_usd"] > 0) == beats).all()
    assert (table["economic_life_months"] <= CFG.hyperscalers.max_age_months + 1e-9).all()
    summary = glut_run.summary()
    assert summary["vintage_npv_usd"] == pytest.approx(table["npv_usd"].sum())


def test_the_finance_page_is_readable_at_a_glance(glut_run):
    m = glut_run
    fig = finance_dashboard(m.model_frame(), m.finance_frame(), m.vintage_frame(), m.summary(), m.config, "t")
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert len(axes) == 4
    for ax in fig.axes:  # every axis, twins included, says what it shows and in which unit
        assert ax.get_ylabel(), ax.get_title()
    for ax in axes:
        assert ax.get_xlabel() and ax.get_legend() is not None, ax.get_title()
    assert "USD" in axes[0].get_ylabel() and "%" in axes[3].get_ylabel()
