"""Closed forms the full model must reproduce in its frictionless limit (docs/ODD.md).

The limit removes one friction per setting (`FRICTIONLESS`): no background or stochastic
progress, so the scripted gain k is the only efficiency change; one commodity tier and no time
budget, so compute per token is 1/efficiency and the elasticity is constant; a posted rent that stays at its
month-0 level, no reservations and no term premium, so every lab pays the same price per
GPU-hour; no logit weight on price or quality, so every lab's markup is the same constant; no
adoption-price effect, no usefulness growth and a spending cap that never binds. Then, after an
open k-fold gain, users' tokens scale by k^eps and inference compute (tokens / efficiency) by
k^(eps - 1); with partial adjustment lambda the with/without inference ratio crosses 1 after
n* = ln(1 - 1/eps) / ln(1 - lambda) months, whatever k is. Each check runs the whole model, paired
with the same seed without the discovery.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from aibubble import AIMarketModel
from aibubble.config import load_config
from aibubble.measures import DAYS_PER_MONTH

FRICTIONLESS = {
    "efficiency.background_progress_per_year": 1.0,
    "architects.discoveries_per_year": 0.0,
    "compute_market.price_adjustment_per_month": 1e-12,
    "labs.reserved_share": 0.0,
    "labs.term_premium": 0.0,
    "users.price_sensitivity": 0.0,
    "users.quality_sensitivity": 0.0,
    "users.adoption_price_elasticity": 0.0,
    "users.usefulness_growth_per_year": 1.0,
    "users.max_spend_usd_per_user_month": 300.0,  # never binds, inside the 10 %-of-GDP guard
    "users.adjustment_per_month": 1.0,
    "users.n_segments": 2000,
    "labs.frontier_token_share": 0.0,  # one commodity tier: compute per token 1/efficiency
    "users.saturation_tokens_per_user_day": None,  # no time budget: the elasticity stays eps
    "users.capability_usefulness_elasticity": 0.0,  # usage answers price only, not training compute
    "labs.training_planning_months": 1.0,  # training spends its budget at once, as the rent moves
}
JUMP = 12


def _pair(k: float, steps: int, **overrides: float) -> tuple[AIMarketModel, AIMarketModel]:
    """The same seed with and without an open k-fold discovery in month JUMP."""
    runs = []
    for gain in (k, 1.0):
        cfg = load_config(
            "sudden-100x",
            FRICTIONLESS
            | {"discovery.jump_size": gain, "discovery.jump_month": JUMP, "run.steps": steps}
            | overrides,
        )
        model = AIMarketModel(config=cfg, rng=1)
        model.run_model()
        runs.append(model)
    return runs[0], runs[1]


def _ratio(pair: tuple[AIMarketModel, AIMarketModel], column: str) -> np.ndarray:
    factual, counter = (m.model_frame() for m in pair)
    return (factual[column] / counter[column]).to_numpy(float)


def _inference_ratio(pair: tuple[AIMarketModel, AIMarketModel]) -> np.ndarray:
    factual, counter = (m.model_frame() for m in pair)
    need = [f["tokens_demanded"] / f["mean_adopted_efficiency"] for f in (factual, counter)]
    return (need[0] / need[1]).to_numpy(float)


def test_the_frictionless_limit_keeps_the_rent_and_every_markup_constant():
    factual, _ = pair = _pair(100.0, 36, **{"users.demand_elasticity": 1.1})
    frame = factual.model_frame()
    assert np.allclose(frame["spot_price_usd_per_gpu_hour"], 3.0, rtol=1e-9, atol=0)
    markups = {round(lab.price * lab.tokens_per_h100e_month / lab.compute_price, 9) for lab in factual.labs}
    assert len(markups) == 1
    assert _ratio(pair, "mean_adopted_efficiency")[-1] == pytest.approx(100.0)


@pytest.mark.parametrize("eps, k", [(0.6, 100.0), (1.0, 100.0), (1.1, 10.0), (1.5, 100.0), (1.5, 10.0)])
def test_tokens_scale_by_k_to_the_eps_and_inference_compute_by_k_to_the_eps_minus_1(eps, k):
    pair = _pair(k, JUMP + 12, **{"users.demand_elasticity": eps})
    assert _ratio(pair, "tokens_demanded")[-1] == pytest.approx(k**eps, rel=1e-6)
    assert _inference_ratio(pair)[-1] == pytest.approx(k ** (eps - 1), rel=1e-6)


@pytest.mark.parametrize("eps, lam", [(1.1, 0.1), (1.5, 0.1), (1.1, 0.25)])
def test_the_inference_ratio_returns_to_1_after_n_star_months_whatever_k(eps, lam):
    """n* = ln(1 - 1/eps) / ln(1 - lambda); the discovering lab adopts it before the others, so the
    crossing is read from the month every lab has adopted it (the mean efficiency is k)."""
    n_star = math.log(1 - 1 / eps) / math.log(1 - lam)
    crossings = []
    for k in (10.0, 100.0, 1000.0):
        pair = _pair(
            k, JUMP + int(n_star) + 12, **{"users.demand_elasticity": eps, "users.adjustment_per_month": lam}
        )
        adopted = int(np.flatnonzero(np.isclose(_ratio(pair, "mean_adopted_efficiency"), k))[0])
        ratio = _inference_ratio(pair)
        crossing = int(np.flatnonzero((ratio >= 1) & (np.arange(ratio.size) >= adopted))[0])
        # months of adjustment after adoption: the ratio is k^(eps (1 - (1 - lam)^(n + 1)) - 1)
        crossings.append(crossing - adopted + 1)
    assert crossings == [math.ceil(n_star)] * 3


def test_saturated_usage_follows_the_harmonic_closed_form_in_the_full_model():
    """With a time budget s_i per segment, usage is 1/u = 1/u_unsaturated + 1/s_i: after a k-fold
    gain each segment's unsaturated usage scales by k^eps, and the total is the sum of the
    saturated segments (the long-run elasticity falls to eps (1 - u/s))."""
    eps, k = 1.5, 100.0
    day = 2e5  # tokens a day: binds within the run
    factual, counter = _pair(
        k, JUMP + 12, **{"users.demand_elasticity": eps, "users.saturation_tokens_per_user_day": day}
    )
    users = counter.users
    saturation = np.exp(-users.neg_log_saturation)
    unsaturated = np.exp(users.log_base + users.price_response)  # the counterfactual's, month JUMP + 12
    closed = 1 / (1 / (unsaturated * k**eps) + 1 / saturation)
    without = 1 / (1 / unsaturated + 1 / saturation)
    adopted = users.adopted
    assert (factual.users.adopted == adopted).all()  # common random numbers: the same adopters
    expected = (closed * adopted).sum() / (without * adopted).sum()
    assert _ratio((factual, counter), "tokens_demanded")[-1] == pytest.approx(expected, rel=1e-9)
    assert expected < 0.5 * k**eps  # saturation bites: far below the unsaturated k^eps
    # proportional to base usage, whose lognormal spread is mean-preserving: the mean in expectation
    assert saturation.mean() == pytest.approx(day * DAYS_PER_MONTH, rel=0.05)


def test_adoption_follows_bass_from_the_initial_share_in_the_full_model():
    cfg = load_config(
        "baseline", {"users.adoption_price_elasticity": 0.0, "users.n_segments": 50_000, "run.steps": 120}
    )
    p, q = cfg.users.bass_p, cfg.users.bass_q  # q is estimated
    model = AIMarketModel(config=cfg, rng=3)
    model.run_model()
    share = model.model_frame()["adoption_share"].to_numpy(float)
    g0 = 1 - share[0]
    t = np.arange(share.size) / 12
    kk = q / (p + q)
    expected = 1 - 1 / (kk + (1 / g0 - kk) * np.exp((p + q) * t))
    assert np.max(np.abs(share - expected)) < 0.01  # sampling noise at 50k segments
    assert share[-1] - share[0] > 0.5  # the S-curve has taken off


@pytest.mark.parametrize("share", [0.0, 0.5, 1.0])
def test_training_spends_the_capability_share_of_a_k_fold_gain_on_capability(share):
    """Labs training on returns (7.6): at unit-elastic users (eps = 1) an open k-fold gain
    leaves revenue, so the return's dollars X, unchanged, and the effective compute labs buy
    moves with its price (1/k at a constant rent) with elasticity sigma: training GPU-hours scale
    by k^(sigma - 1) and effective training compute by k^sigma. Labs of one size whose users do
    not switch (shares, so each lab's revenue and valuation, are the same in both runs) with cash
    that never binds; a logit weight on quality gives training a return at all."""
    k = 100.0
    pair = _pair(
        k,
        JUMP + 12,
        **{
            "labs.training_on_returns": True,
            "users.demand_elasticity": 1.0,
            "labs.capability_share": share,
            "users.quality_sensitivity": 1.0,
            "labs.size_dispersion": 0.0,
            "users.switch_rate_per_month": 0.0,
            "labs.initial_cash_usd": 1e13,
        },
    )
    assert np.allclose(
        _ratio(pair, "ai_spending_usd")[1:], 1.0, rtol=1e-9
    )  # revenue, so X, unchanged (month 0: none)
    after = _ratio(pair, "training_used_h100e")[JUMP + 6 :]  # every lab has adopted the gain
    assert np.allclose(after, k ** (share - 1), rtol=1e-6)
    assert np.all(_ratio(pair, "training_used_h100e")[:JUMP] == 1.0)


@pytest.mark.parametrize("share", [0.0, 0.5])
def test_without_returns_the_capability_share_scales_training_budgets_by_efficiency_to_the_share_minus_1(
    share,
):
    model = AIMarketModel(
        config=load_config(
            "sudden-100x",
            {
                "users.n_segments": 500,
                "run.steps": 60,
                "labs.capability_share": 1.0,
                "labs.training_on_returns": False,
            },
        ),
        rng=2,
    )
    model.run_model()
    spent_on_capability = [lab.training_budget() for lab in model.labs]
    model.config.labs.capability_share = share
    assert max(lab.efficiency for lab in model.labs) > 100  # the 100x gain and background progress
    for lab, budget in zip(model.labs, spent_on_capability, strict=True):
        assert lab.training_budget() == pytest.approx(budget * lab.efficiency ** (share - 1), rel=1e-12)


@pytest.mark.parametrize("share", [1.0, 0.5])
def test_with_a_frontier_tier_compute_per_token_falls_only_in_the_commodity_tier(share):
    """A share theta of tokens is frontier: compute per token goes from 1 to
    c = (1 - theta)/k + theta k^(phi - 1) after an open k-fold gain (phi the capability share).
    At a constant rent and markup the token price follows c, so tokens scale by c^(-eps) and
    inference compute by c^(1 - eps); the commodity price falls by k and the frontier's by
    k^(1 - phi) (flat at phi = 1)."""
    eps, k, theta = 0.8, 100.0, 0.1
    pair = _pair(
        k,
        JUMP + 12,
        **{
            "users.demand_elasticity": eps,
            "labs.frontier_token_share": theta,
            "labs.capability_share": share,
        },
    )
    c = (1 - theta) / k + theta * k ** (share - 1)
    assert _ratio(pair, "tokens_demanded")[-1] == pytest.approx(c**-eps, rel=1e-6)
    factual, counter = (m.model_frame() for m in pair)
    used = [f["compute_used_h100e"] - f["training_used_h100e"] for f in (factual, counter)]
    # inference served: in the frictionless limit every lab is served what it needs
    need = [
        f["tokens_demanded"] / f["tokens_served"] * u for f, u in zip((factual, counter), used, strict=True)
    ]
    assert (need[0] / need[1]).iloc[-1] == pytest.approx(c ** (1 - eps), rel=1e-6)
    assert _ratio(pair, "commodity_token_price_usd_per_mtok")[-1] == pytest.approx(1 / k, rel=1e-6)
    assert _ratio(pair, "frontier_token_price_usd_per_mtok")[-1] == pytest.approx(k ** (share - 1), rel=1e-6)


def _spending(overrides: dict) -> tuple[pd.DataFrame, AIMarketModel]:
    cfg = load_config("baseline", {"users.n_segments": 2000, **overrides})
    model = AIMarketModel(config=cfg, rng=1)
    model.run_model()
    return model.model_frame(), model


def test_a_time_budget_empties_one_tier_but_not_a_market_with_a_frontier_tier():
    """With one (commodity) tier, once usage meets the time budget every efficiency gain cuts
    compute and spending; with a tenth of tokens at the frontier, where efficiency is spent on
    capability, compute per token stops falling and the market keeps its size. Measured on
    compute demand, not utilization: with the frontier tier the builders still overshoot late
    in the run (utilization 0.34 at its 2033 low, seed 1, recovering), which is the supply
    side's doing, not the tiers'."""
    budget = {
        "users.saturation_tokens_per_user_day": 3e6,
        "users.demand_elasticity": 0.8,
        "labs.capability_share": 1.0,
        "users.capability_usefulness_elasticity": 0.0,  # the tiers alone, without capability's pull on usage
    }
    one, _ = _spending(budget | {"labs.frontier_token_share": 0.0})
    two, model = _spending(budget | {"labs.frontier_token_share": 0.1})
    late, peak = one["year"] >= 2033, one["year"] <= 2030
    demand = "compute_demand_h100e"
    assert one.loc[late, "ai_spending_usd"].mean() < 0.1 * one.loc[peak, "ai_spending_usd"].max()
    assert one.loc[late, demand].mean() < 0.1 * one.loc[peak, demand].max()
    assert one.loc[late, "utilization"].max() < 0.5
    assert two.loc[late, "ai_spending_usd"].mean() > 0.3 * two.loc[peak, "ai_spending_usd"].max()
    assert two.loc[late, demand].mean() > 0.5 * two.loc[peak, demand].max()
    # usage stays within the time budget (the mean budget of the adopted segments)
    users = model.users
    bound = np.exp(-users.neg_log_saturation[users.adopted]).mean() / DAYS_PER_MONTH
    assert two["tokens_per_user_day"].max() <= bound


@pytest.mark.parametrize("horizon", [1.0, 6.0, 24.0])
def test_labs_price_on_the_elasticity_users_show_at_their_pricing_horizon(horizon):
    """With partial adjustment lambda a price change has moved usage by eps (1 - (1 - lambda)^H)
    of its long-run response after H months; with no switching between labs that is a lab's own
    elasticity e, and its markup is the Lerner 1/(e - 1) (clipped to max_markup). In the
    frictionless limit the rent is frozen, so the token price moves only with the markup."""
    eps, lam, top = 3.0, 0.1, 5.0
    settings = FRICTIONLESS | {
        "users.demand_elasticity": eps,
        "users.adjustment_per_month": lam,
        "labs.max_markup": top,
        "run.steps": 3,
    }
    prices = []
    for h in (None, horizon):
        model = AIMarketModel(
            config=load_config("baseline", settings | {"labs.pricing_horizon_months": h}), rng=1
        )
        model.run_model()
        prices.append(model.model_frame()["token_price_usd_per_mtok"].to_numpy(float))
    e = eps * (1 - (1 - lam) ** horizon)
    markup = min(1 / (e - 1), top) if e > 1 else top
    np.testing.assert_allclose(prices[1] / prices[0], (1 + markup) / (1 + 1 / (eps - 1)), rtol=1e-9)
