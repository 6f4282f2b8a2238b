"""The thesis, scenario by scenario (docs/design.md#thesis): the outcomes a user should reproduce."""

from __future__ import annotations

import pytest

from aibubble import AIMarketModel


def test_sudden_open_100x_discovery_brings_a_glut_and_a_capex_burst(scenario_runs):
    summary = scenario_runs["sudden-100x"].summary()
    assert summary["glut"] and summary["burst"]
    assert summary["first_glut_month"] > scenario_runs["sudden-100x"].config.discovery.jump_month
    assert summary["peak_overcapacity"] > 0.5
    assert summary["glut_capex_drawdown"] > 0.4


def test_a_sudden_open_100x_discovery_is_a_bubble_in_most_seeds():
    """Whether a glut becomes a financial event (impairment and default write-downs of 10 % of
    the book) varies by seed since impairment follows ASC 360: a glut the builders expect to
    end is not written down. The thesis is a probability, over seeds."""
    bubbles = []
    for seed in range(1, 11):
        model = AIMarketModel(scenario="sudden-100x", rng=seed, n_users=2000)
        model.run_model()
        bubbles.append(model.summary()["bubble"])
    assert sum(bubbles) >= 6, bubbles


def test_the_baseline_brings_no_glut(scenario_runs):
    assert not scenario_runs["baseline"].summary()["glut"]


@pytest.mark.xfail(
    strict=True,
    reason="at the calibrated demand elasticity (0.80 < 1) a steady 10x/yr efficiency gain cuts "
    "the compute that users buy (k^(e-1): ~0.6x a year) faster than usage grows: gradual-10x gluts "
    "in 8 and bubbles in 6 of seeds 1-10 (2000 users). Over the posterior P(bubble) is 0.47, and "
    "0 for elasticities above ~1 (docs/calibration): the thesis holds only for elastic demand",
)
def test_gradual_progress_brings_no_glut(scenario_runs):
    assert not scenario_runs["gradual-10x"].summary()["glut"]


def test_deepseek_shock_ends_with_more_capacity_than_before_it(scenario_runs):
    """Whether it gluts on the way is the stylised fact of test_episodes.py (an xfail)."""
    model = scenario_runs["deepseek-2025"]
    df = model.model_frame()
    before = df["installed_capacity_h100e"].iloc[model.config.discovery.jump_month - 1]
    assert df["installed_capacity_h100e"].iloc[-1] > before


@pytest.mark.xfail(
    strict=True,
    reason="on the baseline's parameters (only forecast optimism and herding manic) the mania "
    "bubbles in 1 of 50 seeds (1-50), as often as the baseline, and not at seed 42: the vendor's "
    "output and the 6x/yr forecast cap hold the fleet to the baseline's; awaits calibration (issue 15)",
)
def test_demand_mania_brings_a_bubble_without_any_efficiency_shock(scenario_runs):
    model = scenario_runs["demand-mania"]
    assert model.config.discovery.jump_size == 1.0
    assert model.summary()["bubble"]


def test_the_shock_raises_efficiency_by_its_size_within_the_diffusion_lag(scenario_runs):
    model = scenario_runs["sudden-100x"]
    d = model.config.discovery
    df = model.model_frame()
    lag = d.publication_lag_months + d.implementation_lag_months
    before = df["mean_adopted_efficiency"].iloc[d.jump_month - 1]
    after = df["mean_adopted_efficiency"].iloc[d.jump_month + lag]
    assert after / before > d.jump_size  # the jump plus background progress


def test_summary_reports_every_headline_measure(scenario_runs):
    summary = scenario_runs["sudden-100x"].summary()
    for key in (
        "peak_overcapacity",
        "glut_months",
        "months_in_bubble",
        "capex_drawdown",
        "write_offs_usd",
        "impairment_usd",
        "reabsorption_months",
        "bankruptcies",
        "episodes",
    ):
        assert key in summary
    assert summary["write_offs_usd"] > 0 and summary["reabsorption_months"] is not None
