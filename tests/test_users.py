"""The user population against closed forms: Bass diffusion and constant-elasticity demand."""

from __future__ import annotations

import math

import mesa
import numpy as np
import pytest

from aibubble.agents import UserPopulation
from aibubble.config import UserConfig


def market(seed: int) -> mesa.Model:
    """A bare Mesa model with the random stream the population draws from."""
    model = mesa.Model(rng=seed)
    model.streams = {"users": model.rng, "exits": model.rng}
    return model


def population(n: int = 50_000, seed: int = 3, **cfg) -> UserPopulation:
    model = market(seed)
    return UserPopulation(
        model, UserConfig(n_segments=n, **cfg), reference_price=1e-5, lab_shares=np.array([1.0])
    )


def bass_closed_form(t_years: np.ndarray, p: float, q: float) -> np.ndarray:
    """Share adopted at time t from zero adoption (Bass 1969)."""
    e = np.exp(-(p + q) * t_years)
    return (1 - e) / (1 + q / p * e)


def test_adoption_follows_the_bass_curve_when_price_effects_are_off():
    p, q = 0.03, 0.38
    users = population(initial_adoption=0.0, bass_p=p, bass_q=q, adoption_price_elasticity=0.0)
    shares = []
    for _ in range(240):
        users.adopt(market_price=5e-6)  # price ignored when the adoption elasticity is 0
        shares.append(users.adoption_share)
    expected = bass_closed_form(np.arange(1, 241) / 12, p, q)
    assert np.max(np.abs(np.array(shares) - expected)) < 0.008  # sampling noise at 50k segments
    assert shares[-1] > 0.5  # the S-curve has taken off, so the comparison is not trivial


def test_cheaper_ai_speeds_adoption_when_price_effects_are_on():
    slow = population(initial_adoption=0.05, adoption_price_elasticity=0.5)
    fast = population(initial_adoption=0.05, adoption_price_elasticity=0.5)
    for _ in range(24):
        slow.adopt(market_price=1e-5)
        fast.adopt(market_price=1e-7)
    assert fast.adoption_share > slow.adoption_share + 0.05


@pytest.mark.parametrize("elasticity, adjustment", [(1.1, 0.1), (0.5, 0.3), (2.0, 0.05)])
def test_usage_responds_to_a_price_cut_with_the_partial_adjustment_closed_form(elasticity, adjustment):
    users = population(
        n=1000,
        demand_elasticity=elasticity,
        adjustment_per_month=adjustment,
        usefulness_growth_per_year=1.0,
        max_spend_usd_per_user_month=300.0,  # the most the GDP guard allows 3e9 users: never binds here
    )
    price0 = np.array([users.reference_price])
    users.adjust_usage(price0, 0)
    start = users.log_usage.copy()
    k = 0.25  # permanent price cut to a quarter
    for n in range(1, 301):
        users.adjust_usage(price0 * k, n)
        expected = -elasticity * math.log(k) * (1 - (1 - adjustment) ** n)
        assert np.allclose(users.log_usage - start, expected, rtol=1e-9, atol=1e-12)
    # the long run: d log usage / d log price equals minus the elasticity
    long_run = (users.log_usage - start) / math.log(k)
    assert np.allclose(long_run, -elasticity, rtol=1e-6)
    # the impact (first month) elasticity is adjustment x elasticity
    assert math.isclose(adjustment * elasticity, elasticity * (1 - (1 - adjustment) ** 1))


def test_spending_per_user_is_capped_by_the_budget_when_ai_gets_very_cheap():
    users = population(
        n=1000, max_spend_usd_per_user_month=50.0, adjustment_per_month=1.0, demand_elasticity=2.0
    )
    price = np.array([users.reference_price * 1e-6])
    users.adjust_usage(price, 12)
    spend = np.exp(users.log_usage) * price[0]  # USD per user per month
    budget = np.exp(users.log_budget) * users.anchor_price  # USD per user per month
    assert np.all(spend <= budget * (1 + 1e-9))
    assert np.allclose(spend, budget)  # the cap binds for everyone at this price
    # the caps average the configured budget exactly over the drawn segments (heavy users' more)
    assert math.isclose(budget.mean(), 50.0, rel_tol=1e-9)
    assert np.allclose(budget / 50.0, np.exp(users.log_base) / np.exp(users.log_base).mean())


def test_users_leave_a_dead_lab_and_choose_among_the_living():
    model = market(1)
    users = UserPopulation(
        model, UserConfig(n_segments=5000, switch_rate_per_month=0.0), 1e-5, np.full(3, 1 / 3)
    )
    alive = np.array([True, False, True])
    users.choose_labs(np.array([1e-5, 1e-5, 1e-5]), np.zeros(3), alive)
    assert not np.any(users.choice == 1)
    assert set(np.unique(users.choice)) == {0, 2}


def test_cheaper_lab_wins_more_of_the_switchers():
    model = market(2)
    users = UserPopulation(
        model, UserConfig(n_segments=20000, switch_rate_per_month=1.0), 1e-5, np.array([0.5, 0.5])
    )
    users.choose_labs(np.array([1e-5, 5e-6]), np.zeros(2), np.array([True, True]))
    assert (users.choice == 1).mean() > 0.7
