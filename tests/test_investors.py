"""Investors' capital is finite: the pool's closed form, and what it does to the labs' rounds.

The pool is tested alone first (inflow path, dry-powder cap, full and pro-rata grants, an empty
pool), then in the real baseline: funding bounded by the inflow, money conserved, and rounds
spread over the calendar instead of all labs going to market in the same months.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from aibubble import AIMarketModel
from aibubble.config import InvestorConfig, load_config
from aibubble.investors import InvestorPool
from aibubble.market import STREAMS, _funding_calendar, _streams
from aibubble.measures import HOURS_PER_MONTH
from tests.test_invariants import step_and_check


def pool(**cfg) -> InvestorPool:
    return InvestorPool(InvestorConfig(**cfg))


def test_the_inflow_grows_at_a_rate_that_halves_every_half_life_and_levels_off():
    p = pool(inflow_usd_per_month=1e9, inflow_growth_per_year=4.0, inflow_growth_halflife_years=2.0)
    k = math.log(2) / 2.0
    for month in (0, 1, 12, 24, 60):
        expected = 1e9 * math.exp(math.log(4.0) * (1 - math.exp(-k * month / 12)) / k)
        assert p.inflow_usd(month) == pytest.approx(expected, rel=1e-12)
    assert p.inflow_usd(0) == 1e9
    # growth over year one is below 4x (the rate is already halving), and the limit is 4^(1/k)
    assert 1e9 * 2.0 < p.inflow_usd(12) < 1e9 * 4.0
    assert p.inflow_usd(12 * 200) == pytest.approx(1e9 * 4.0 ** (1 / k), rel=1e-9)


def test_a_very_long_half_life_is_steady_exponential_growth():
    p = pool(inflow_usd_per_month=1e9, inflow_growth_per_year=2.0, inflow_growth_halflife_years=1000.0)
    assert p.inflow_usd(36) == pytest.approx(1e9 * 2.0**3, rel=5e-3)  # within 0.2%


def test_unasked_capital_accumulates_as_dry_powder_up_to_the_cap():
    p = pool(inflow_usd_per_month=10.0, inflow_growth_per_year=1.0, dry_powder_cap_months=3.0)
    none = np.zeros(4)
    powder = []
    for month in range(1, 7):
        assert (p.grant(month, none) == 0).all()
        powder.append(p.dry_powder)
    assert powder == pytest.approx([10, 20, 30, 30, 30, 30])  # capped at 3 months of inflow


def test_requests_the_pool_covers_are_granted_in_full_and_the_rest_carries_over():
    p = pool(inflow_usd_per_month=10.0, inflow_growth_per_year=1.0, dry_powder_cap_months=12.0)
    p.grant(1, np.zeros(2))
    granted = p.grant(2, np.array([5.0, 0.0, 12.0]))  # 17 of the 20 available
    assert granted == pytest.approx([5.0, 0.0, 12.0])
    assert p.dry_powder == pytest.approx(3.0) and p.requested == pytest.approx(17.0)


def test_requests_beyond_the_pool_are_granted_pro_rata_and_empty_it():
    p = pool(inflow_usd_per_month=10.0, inflow_growth_per_year=1.0, dry_powder_cap_months=12.0)
    p.grant(1, np.zeros(1))  # 10 of dry powder, 10 more arrive: 20 available
    requests = np.array([10.0, 30.0, 0.0, 40.0])
    granted = p.grant(2, requests)
    assert granted == pytest.approx(requests * 20 / 80)
    assert granted.sum() == pytest.approx(20.0) and p.dry_powder == 0.0


def test_an_empty_pool_grants_nothing():
    p = pool(inflow_usd_per_month=0.0)
    assert (p.grant(5, np.array([1e9, 2e9])) == 0).all() and p.dry_powder == 0.0


def test_the_funding_stream_is_appended_so_every_other_stream_draws_as_before():
    assert STREAMS[-1] == "funding"
    before = np.random.SeedSequence(7).spawn(len(STREAMS) - 1)
    streams = _streams(7)
    for name, child in zip(STREAMS[:-1], before, strict=True):
        assert streams[name].random(5) == pytest.approx(np.random.default_rng(child).random(5))


def test_each_lab_draws_its_cadence_within_the_spread_and_its_last_round_within_its_cadence():
    cadence, last = _funding_calendar(np.random.default_rng(0), 2000, 12, 0.5)
    assert cadence.min() == 6 and cadence.max() == 18
    assert (last <= -1).all() and (last >= -cadence).all()
    first_due = last + cadence  # months 0 .. cadence - 1
    assert set(first_due) == set(range(18))
    fixed, _ = _funding_calendar(np.random.default_rng(0), 50, 12, 0.0)
    assert (fixed == 12).all()


@pytest.fixture(scope="module")
def baseline() -> AIMarketModel:
    """The baseline's first three years, every identity checked every month."""
    model = AIMarketModel(config=load_config("baseline", {"n_users": 2000, "steps": 36}), rng=1)
    step_and_check(model, 36)
    return model


def test_funding_in_the_first_three_years_is_bounded_by_the_investors_inflow(baseline):
    df = baseline.model_frame().iloc[1:]
    inflow = sum(baseline.investors.inflow_usd(t) for t in range(1, 37))
    assert df["investor_inflow_usd"].sum() == pytest.approx(inflow)
    assert df["lab_funding_usd"].sum() <= inflow * (1 + 1e-9)
    assert df["lab_funding_usd"].sum() > 0.5 * inflow  # labs do raise: the bound is not idle
    # capital in the months' records adds up: granted + carried = carried before + arrived
    carried = df["investor_capital_available_usd"].shift(fill_value=0.0)
    placed = df["lab_funding_usd"] + df["investor_capital_available_usd"]
    assert (placed <= carried + df["investor_inflow_usd"] + 1e-3).all()


def test_labs_keep_their_own_cadence_instead_of_raising_in_lockstep(baseline):
    """With one calendar every lab raised again exactly `funding_interval_months` after its
    first round; with their own cadences the gaps differ from lab to lab."""
    events = baseline.events_frame()
    rounds = events[events["kind"] == "funding"]
    steps = rounds.groupby("agent_id")["step"].apply(list)
    gaps = {s[1] - s[0] for s in steps if len(s) > 1}
    assert len(gaps) >= 5
    for lab in baseline.labs:  # and no lab raises again before its own cadence has passed
        mine = steps.get(lab.unique_id, [])
        assert all(b - a >= lab.funding_interval for a, b in zip(mine[:-1], mine[1:], strict=True))


def test_no_more_than_half_the_labs_raise_in_one_month(baseline):
    """Labs start at different points of their funding cycles (cash by the part of the cycle
    still ahead) with their books at month-0 costs, so they do not run short together."""
    rounds = baseline.events_frame().query("kind == 'funding'")
    assert rounds.groupby("step").size().max() <= len(baseline.labs) // 2


def test_money_is_conserved_every_month_when_the_pool_rations_rounds():
    """A pool far too small for the labs' requests: every round is rationed."""
    cfg = load_config("sudden-100x", {"n_users": 1000, "investors.inflow_usd_per_month": 1e8})
    model = AIMarketModel(config=cfg, rng=3)
    step_and_check(model, 60)
    events = model.events_frame()
    rationed = events[(events["kind"] == "funding") & events["detail"].str.startswith("rationed")]
    assert len(rationed) > 0


@pytest.mark.parametrize("on_returns", [False, True])
def test_labs_that_plan_ahead_open_at_the_training_month_0s_fleet_carries(on_returns):
    """In the full model: month-0 plans sum to the fleet's training at the initial rent, and
    month 1's rent does not jump as when the labs' cash is spent at once (the budget rule,
    where planning at once sends it from $3 to ~$5.2; training on returns spends the cash only
    as far as the return pays, so the jump is smaller, ~$3.6, and planning ahead still halves it)."""
    rents = {}
    for months in (1.0, 6.0):
        overrides = {
            "n_users": 2000,
            "labs.training_planning_months": months,
            "labs.training_on_returns": on_returns,
        }
        model = AIMarketModel(config=load_config("baseline", overrides), rng=1)
        if months > 1:
            frame = model.model_frame()
            carried = frame["training_used_h100e"].iloc[0] * model.spot_price * HOURS_PER_MONTH
            assert sum(lab.training_plan for lab in model.labs) == pytest.approx(carried, rel=1e-9)
        step_and_check(model, 2)
        rents[months] = model.model_frame()["spot_price_usd_per_gpu_hour"].iloc[1]
    start = model.model_frame()["spot_price_usd_per_gpu_hour"].iloc[0]
    assert rents[6.0] - start < 0.5 * (rents[1.0] - start)  # planning ahead halves month 1's jump
    assert (rents[1.0] > 1.5 * start) == (not on_returns)  # only the budget rule: +50 % and more
