"""The supply side in the full model: commitments, the vendor, defaults, accounting by cause.

Each test runs `AIMarketModel` itself (not one agent) through the shipped scenarios, so the
rules are checked where they interact: firm orders are delivered after a 100x discovery, the
vendor cuts production and its price, a debt-financed builder can default with its losses
booked, and write-offs add up by cause.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aibubble import AIMarketModel
from aibubble.agents import Neocloud
from aibubble.config import load_config

SHOCK = 36  # sudden-100x's discovery month


@pytest.fixture(scope="module")
def shock() -> tuple[AIMarketModel, object]:
    """sudden-100x where it gluts: at the calibrated medians (capability share 0.77) users absorb
    the 100x before orders fall, so the share is pinned at 0.6, in the posterior's lower third
    (below ~0.78), where it gluts and orders collapse."""
    model = AIMarketModel(
        scenario="sudden-100x", rng=1, n_users=2000, overrides={"labs.capability_share": 0.6}
    )
    model.run_model()
    return model, model.model_frame()


def test_after_a_100x_discovery_firm_orders_are_still_delivered():
    """The rule needs orders on the books when the glut comes. At the calibrated medians the
    builders' backlog is delivered by then (seed 1: zero in month 40, when utilization falls),
    so the mechanism is checked on the hand-set parameters, where the glut meets a backlog."""
    model = AIMarketModel(scenario="sudden-100x", rng=1, n_users=2000, overrides={"parameters": "none"})
    model.run_model()
    df = model.model_frame()
    after = df.loc[SHOCK + 1 : SHOCK + 12]
    firm_before = df.loc[SHOCK, "gpu_firm_backlog_h100e"]
    assert firm_before > 0
    # the builders cancel what they may, yet GPUs keep arriving: the firm part is delivered
    # as fast as the vendor makes GPUs
    assert after["gpu_cancellations_h100e"].sum() > 0
    made = after["gpu_production_h100e_per_month"].sum()
    assert after["gpu_deliveries_h100e"].sum() >= 0.95 * min(firm_before, made)
    assert (after["gpu_firm_backlog_h100e"] <= after["gpu_backlog_h100e"] + 1e-6).all()


def test_the_vendor_cuts_production_and_its_price_when_orders_fall(shock):
    model, df = shock
    production = df["gpu_production_h100e_per_month"].to_numpy()
    window = production[SHOCK : SHOCK + 18]
    assert window.min() < window[0]  # cut after the discovery
    cfg = model.config.gpu_market
    list_price = cfg.price_usd_per_h100e / np.array([model.vendor.hardware_performance(t) for t in df.index])
    ratio = (df["gpu_price_usd_per_h100e"] / list_price).to_numpy()
    assert ratio[SHOCK : SHOCK + 18].min() < 1.0  # a discount, as the vendor's margin falls
    assert ratio.min() >= 1 - cfg.max_price_discount - 1e-9
    assert ratio.max() <= 1 + cfg.max_price_premium + 1e-9


def test_write_offs_add_up_by_cause_and_defaults_book_their_losses(shock):
    model, df = shock
    causes = [
        "write_offs_failure_usd",
        "write_offs_retirement_usd",
        "impairment_usd",
        "write_offs_default_usd",
    ]
    assert np.allclose(df[causes].sum(axis=1), df["write_downs_usd"], rtol=1e-9, atol=1e-3)
    summary = model.summary()
    total = sum(summary[k] for k in ["write_offs_failure_usd", "write_offs_retirement_usd", "impairment_usd"])
    assert summary["write_offs_usd"] == pytest.approx(total + summary["write_offs_default_usd"])
    defaults = model.events_frame().query("kind == 'default'")
    assert len(defaults) == summary["neocloud_defaults"]
    assert df["default_losses_usd"].sum() == pytest.approx(summary["default_losses_usd"])
    assert (defaults["agent_type"] == "neocloud").all()


def test_a_debt_financed_builder_can_default_after_a_100x_discovery():
    """Neoclouds carry GPU-backed debt and no core business: in a glut their cash and their
    collateral shrink together. Over a few seeds at least one defaults, and every default
    writes its fleet down to fair value and books the lenders' loss."""
    found = []
    for seed in (1, 2, 3):
        model = AIMarketModel(scenario="sudden-100x", rng=seed, n_users=2000)
        model.run_model()
        neoclouds = [hs for hs in model.hyperscalers if isinstance(hs, Neocloud)]
        assert len(neoclouds) == model.config.neoclouds.count
        found.append(sum(hs.defaults for hs in neoclouds))
        assert all(hs.debt >= 0 and hs.cash >= -1e-6 for hs in neoclouds)
    assert sum(found) >= 1, found


def test_hyperscalers_never_default_and_neoclouds_get_no_core_funding():
    model = AIMarketModel(scenario="baseline", rng=2, n_users=2000, steps=24)
    model.run_model()
    assert not any(getattr(hs, "defaults", 0) for hs in model.hyperscalers if not isinstance(hs, Neocloud))
    assert all(hs.capital_share == 0.0 for hs in model.hyperscalers if isinstance(hs, Neocloud))
    assert sum(hs.capital_share for hs in model.hyperscalers) == pytest.approx(1.0)


# --- the balanced-growth null run and the 2024-25 record --------------------------------


@pytest.fixture(scope="module")
def null_runs() -> list:
    """The baseline without stochastic discoveries: growth with nothing to upset it."""
    runs = []
    for seed in (1, 2, 3):
        model = AIMarketModel(
            scenario="baseline", rng=seed, n_users=2000, overrides={"architects.discoveries_per_year": 0.0}
        )
        model.run_model()
        runs.append(model)
    return runs


def test_the_null_run_settles_into_a_smooth_market(null_runs):
    """After its first two years: the spot price moves smoothly (no sawtooth, no limiter), and
    rents sit near the user cost of a new GPU (q near 1)."""
    for model in null_runs:
        df = model.model_frame().iloc[24:]
        moves = np.abs(np.diff(np.log(df["spot_price_usd_per_gpu_hour"].to_numpy())))
        assert np.mean(moves > np.log(1.25)) <= 0.05 and np.median(moves) < 0.1
        assert 0.5 <= df["tobin_q"].iloc[-12:].mean() <= 2.5


def test_the_builders_earn_about_their_cost_of_capital_in_the_null_run(null_runs):
    """Measured at the calibrated medians (seeds 1-3): ROIC on the GPUs and shells averages
    -5.8, -7.0 and -6.8 %/yr after the first two years (medians -1.0 to -1.6 %), above
    -r = -12 %: builders that want inference capacity at the user cost build less when rents
    fall short of it. (Before shells were an asset apart, -12.6 to -14.4 %/yr: a strict xfail.)
    The null run still earns less than r; the bound asks only that it not lose it."""
    for model in null_runs:
        df = model.model_frame().iloc[24:]
        r = model.config.hyperscalers.discount_rate_per_year
        assert -r < df["hyperscaler_roic_per_year"].mean() < 3 * r


def test_the_null_run_has_no_funding_waves(null_runs):
    """No more than a quarter of the labs raise in any one month after the first two years. At
    the shipped medians 5 at most (seeds 1-3), on the bound: rounds are over-dispersed (0.6 a
    month, variance about twice that), from common shocks (the investor pool, growth above
    the hurdle); at the previous medians 6 raised in one month at seed 3."""
    for model in null_runs:
        events = model.events_frame()
        rounds = events[(events["kind"] == "funding") & (events["step"] >= 24)].groupby("step").size()
        assert rounds.max() <= model.config.labs.count / 4


def test_the_null_run_keeps_the_builders_planned_headroom(null_runs):
    """Utilization near the builders' target after two years, not pinned at 100 % (it was on the
    hand-set parameters, where labs' dollar training budgets buy any idle GPU: issue 13)."""
    for model in null_runs:
        df = model.model_frame().iloc[24:]
        target = model.config.hyperscalers.target_utilization
        assert abs(df["utilization"].mean() - target) <= 0.07


@pytest.fixture(scope="module")
def record_runs() -> list[pd.DataFrame]:
    frames = []
    for seed in (1, 2, 3):
        model = AIMarketModel(scenario="baseline", rng=seed, n_users=2000, steps=24)
        model.run_model()
        frames.append(model.model_frame())
    return frames


def _median(frames, f) -> float:
    return float(np.median([f(df) for df in frames]))


def test_capex_of_2024_25_lies_within_the_record(record_runs):
    """docs/sources.md#company-filings, within +-40 % (in sample). Measured at the medians
    (seeds 1-3): $193-255B in 2024 (record $223B; $52-73B of it on shells for the next years'
    GPUs) and $485-515B in 2025 (record $410B)."""
    for year, real in ((2024, 223e9), (2025, 410e9)):
        i = year - 2024
        capex = _median(record_runs, lambda df, i=i: df["capex_usd"].iloc[12 * i + 1 : 12 * i + 13].sum())
        assert abs(capex / real - 1) <= 0.4, (year, capex)


def test_the_rental_price_of_2024_25_lies_within_the_record(record_runs):
    """docs/sources.md#semianalysis-rental, within +-40 % (in sample). Measured at the medians
    (seeds 1-3): $1.92-2.41 in October 2024 (record $2.99) and $1.62-1.77 in October 2025
    (record $1.70)."""
    for month, real in ((9, 2.99), (21, 1.70)):
        rent = _median(record_runs, lambda df, m=month: df["spot_price_usd_per_gpu_hour"].iloc[m])
        assert abs(rent / real - 1) <= 0.4, (month, rent)


@pytest.mark.xfail(
    strict=True,
    reason="builders want more capacity than the vendor makes, so at the calibrated "
    "medians the 2025 backlog runs to 6.7-7.8 months (seeds 1-3; record 3-6; within one "
    "uncertainty in 59 % of posterior draws) and the price paid is 1.6-1.7x the list price "
    "(the allocation premium of a backlog above the normal 3 months): the vendor's side of "
    "issue 12",
)
def test_lead_time_and_gpu_price_paid_of_2025_lie_within_the_record(record_runs):
    """Lead times ~3-6 months in 2025 (sources.md#gpu-trade-press); price paid near the
    all-in list price (no more than +25 %)."""
    lead = _median(record_runs, lambda df: df["gpu_lead_time_months"].iloc[13:25].mean())
    assert 3 <= lead <= 6, lead
    cfg = load_config("baseline")
    years = cfg.efficiency.hardware_doubling_years
    perf = np.array([2 ** (t / (12 * years)) for t in range(13, 25)])  # list price = base / perf
    paid = _median(record_runs, lambda df: (df["gpu_price_usd_per_h100e"].iloc[13:25] * perf).mean())
    assert paid / cfg.gpu_market.price_usd_per_h100e <= 1.25, paid


@pytest.mark.parametrize("max_age", [3, 24])
def test_frontier_training_runs_only_on_recent_clusters_in_the_full_model(max_age):
    """Training never uses more than the capacity recent enough for it, and GPUs too old to
    train on never rent above recent ones. With a 3-month limit recent GPUs are scarce, so the
    market splits into two prices for much of the run (52 months at seed 1; 109 at earlier
    medians); at the shipped 24 months recent capacity suffices and the pools split for a few
    months at most (none at seed 1; 13 at earlier medians)."""
    m = AIMarketModel("sudden-100x", rng=1, overrides={"compute_market.training_max_age_months": max_age})
    m.run_model()
    f = m.model_frame().iloc[1:]
    assert (f["training_used_h100e"] <= f["trainable_capacity_h100e"] * (1 + 1e-9) + 1e-6).all()
    spot, legacy = f["spot_price_usd_per_gpu_hour"], f["legacy_spot_price_usd_per_gpu_hour"]
    assert (legacy <= spot * (1 + 1e-12)).all()
    split = int((legacy < spot * 0.999).sum())
    assert split > 40 if max_age == 3 else split < 30


def test_builders_want_inference_capacity_where_its_rent_meets_the_user_cost():
    """Jorgenson's desired capital in the full model: the inference capacity builders plan for
    is today's need at the headroom times q^eta, q the smoothed spot rent at the headroom over
    a new GPU's user cost and eta users' usage elasticity at the planning horizon. Where rents
    sit below the user cost (q < 1; here a 30 % cost of capital puts q at 0.6-0.9 for most of
    2024), builders want, and order, less than today's need."""
    key = "hyperscalers.inference_want_at_user_cost"
    dear = {"hyperscalers.discount_rate_per_year": 0.3}
    runs = {
        rule: AIMarketModel("baseline", rng=1, n_users=2000, steps=12, overrides={key: rule, **dear})
        for rule in (True, False)
    }
    for model in runs.values():
        for _ in range(6):
            model.step()
    m = runs[True]
    cfg, t = m.config, m.steps
    need, no_training = np.full(len(m.labs), 1e5), np.zeros(len(m.labs))
    wanted = m._wanted_capacity(t, need, no_training)
    builders = cfg.hyperscalers
    opex = builders.opex_usd_per_gpu_hour / m.vendor.hardware_performance(t)
    shell = builders.shell_cost_usd_per_kw * builders.power_kw_per_gpu / m.vendor.hardware_performance(t)
    q = (
        m.reference_price
        * builders.target_utilization
        / m.hyperscalers[0].user_cost(m.vendor.price_usd_per_h100e(t), opex, shell)
    )
    users = cfg.users
    eta = users.demand_elasticity * (1 - (1 - users.adjustment_per_month) ** builders.planning_horizon_months)
    today = need.sum() / builders.target_utilization
    assert wanted == pytest.approx(today * q**eta, rel=1e-12)
    assert q < 1 and 0 < eta < users.demand_elasticity
    for model in runs.values():
        model.run_model()
    orders = {rule: model.model_frame()["gpu_orders_h100e"].iloc[1:13].sum() for rule, model in runs.items()}
    assert orders[True] < orders[False]
