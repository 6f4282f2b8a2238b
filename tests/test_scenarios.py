"""The thesis, scenario by scenario (docs/design.md#thesis): the outcomes a user should reproduce."""

from __future__ import annotations

import pytest

from aibubble import AIMarketModel

# The calibrated capability share (0.77, 90 % [0.51, 0.96]) sits where the answer turns: the
# findings' "What an efficiency gain is spent on" sweeps it. Both sides of the turn, in the
# full model: labs that spend 40 % of each gain on cost (the posterior's lower third, where a
# 100x bubbles in 0.96 of runs), and labs that spend it all on capability (Epoch's record for
# training compute). At 0.75, in the middle third, the 100x bubbles in 5 of seeds 1-10.
SPENT_ON_COST = {"labs.capability_share": 0.6}
SPENT_ON_CAPABILITY = {"labs.capability_share": 1.0}


@pytest.fixture(scope="module")
def spent_on_cost() -> AIMarketModel:
    model = AIMarketModel(scenario="sudden-100x", overrides=SPENT_ON_COST)
    model.run_model()
    return model


def test_sudden_open_100x_discovery_brings_a_glut_and_a_capex_burst_when_labs_spend_gains_on_cost(
    spent_on_cost,
):
    summary = spent_on_cost.summary()
    assert summary["glut"] and summary["burst"]
    assert summary["first_glut_month"] > spent_on_cost.config.discovery.jump_month
    assert summary["peak_overcapacity"] > 0.5
    assert summary["glut_capex_drawdown"] > 0.4


def _bubbles(overrides: dict) -> list[bool]:
    bubbles = []
    for seed in range(1, 11):
        model = AIMarketModel(scenario="sudden-100x", rng=seed, n_users=2000, overrides=overrides)
        model.run_model()
        bubbles.append(model.summary()["bubble"])
    return bubbles


def test_a_sudden_open_100x_discovery_is_a_bubble_in_most_seeds_when_labs_spend_gains_on_cost():
    """Whether a glut becomes a financial event (impairment and default write-downs of 10 % of
    the book) varies by seed since impairment follows ASC 360: a glut the builders expect to
    end is not written down. The thesis is a probability, over seeds."""
    bubbles = _bubbles(SPENT_ON_COST)
    assert sum(bubbles) >= 6, bubbles


@pytest.mark.xfail(
    strict=True,
    reason="at capability share 1, 3 of seeds 1-10 bubble (seeds 2, 9 and 10), late in the run "
    "(gluts from month 96 on), after 13-17 of the 20 labs have gone bankrupt on take-or-pay bills "
    "as the rent falls faster than the hardware decline their contracts are priced on (the test "
    "below): the glut comes from the labs' failures, not from the discovery",
)
def test_labs_that_spend_every_gain_on_capability_absorb_a_100x_discovery():
    """At capability share 1 a frontier token needs the same compute however efficient models
    get, and labs spend every gain on more effective training compute, none on cutting its
    cost: the discovery cannot empty the fleet."""
    bubbles = _bubbles(SPENT_ON_CAPABILITY)
    assert sum(bubbles) <= 1, bubbles


@pytest.mark.xfail(
    strict=True,
    reason="at capability share 1 (at the top of the posterior's 90 % interval, 0.41-0.98) "
    "sudden-100x's fleet peaks at 0.9-1.2e9 H100e, 590-810x the month-0 fleet, drawing 171-228 GW "
    "(in 219-283 GW of shells), and 13-17 of the 20 labs go bankrupt (seeds 1-10): labs that "
    "spend every gain on capability train at their money's limit; nothing caps the vendor's "
    "output or the power the fleet draws (issue 12)",
)
def test_labs_that_spend_every_gain_on_capability_stay_in_business_and_the_fleet_stays_physical():
    for seed in (1, 2, 3):
        model = AIMarketModel(scenario="sudden-100x", rng=seed, n_users=2000, overrides=SPENT_ON_CAPABILITY)
        model.run_model()
        frame = model.model_frame()
        assert frame["labs_alive"].iloc[-1] >= model.config.labs.count / 2
        assert frame["installed_capacity_h100e"].max() <= 100 * frame["installed_capacity_h100e"].iloc[0]


@pytest.mark.xfail(
    strict=True,
    reason="at the calibrated medians (capability share 0.75 < 1, so background progress cuts "
    "compute per frontier token once usage nears its time budget) background progress alone "
    "gluts and bubbles the baseline in all of seeds 1-10 and at seed 42; P(bubble) is 0.68 "
    "over the posterior (docs/calibration)",
)
def test_the_baseline_brings_no_glut():
    """Over seeds, not one: at most two of ten runs glut."""
    gluts = []
    for seed in range(1, 11):
        model = AIMarketModel(scenario="baseline", rng=seed, n_users=2000)
        model.run_model()
        gluts.append(model.summary()["glut"])
    assert sum(gluts) <= 2, gluts


@pytest.mark.xfail(
    strict=True,
    reason="at the calibrated medians (elasticity 0.81 < 1, capability share 0.75 < 1) a steady "
    "10x/yr efficiency gain cuts the compute that users and training buy faster than usage grows: "
    "gradual-10x gluts and bubbles in 50 of seeds 1-50. Over the posterior P(bubble) is 0.95 "
    "(docs/calibration), 0.88 or more in every third of the draws",
)
def test_gradual_progress_brings_no_glut(scenario_runs):
    assert not scenario_runs["gradual-10x"].summary()["glut"]


def test_deepseek_shock_ends_with_more_capacity_than_before_it(scenario_runs):
    """Whether it gluts on the way is the stylised fact of test_episodes.py (an xfail)."""
    model = scenario_runs["deepseek-2025"]
    df = model.model_frame()
    before = df["installed_capacity_h100e"].iloc[model.config.discovery.jump_month - 1]
    assert df["installed_capacity_h100e"].iloc[-1] > before


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


def test_summary_reports_every_headline_measure(spent_on_cost):
    summary = spent_on_cost.summary()
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
    assert summary["glut"] and summary["write_offs_usd"] > 0 and summary["impairment_usd"] > 0
    assert summary["reabsorption_months"] is None or summary["reabsorption_months"] > 0
