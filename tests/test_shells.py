"""Data-centre shells: built ahead in instalments, depreciated over decades, kept through a glut."""

from __future__ import annotations

import numpy as np
import pytest

from aibubble.market import AIMarketModel
from aibubble.shells import Shells


def test_a_shell_is_paid_in_equal_instalments_and_enters_service_after_the_last():
    shells = Shells(cost_usd_per_kw=1000.0, build_months=4, life_months=240)
    shells.start(100.0)
    assert shells.commitments() == pytest.approx(100_000.0)
    paid = []
    for month in range(4):
        assert shells.kw == 0.0, month
        paid.append(shells.month()[0])
    assert paid == pytest.approx([25_000.0] * 4)
    assert shells.kw == 100.0 and shells.building_kw == 0.0 and shells.commitments() == 0.0
    assert shells.in_progress == pytest.approx(0.0) and shells.book == pytest.approx(100_000.0)
    # straight line from the month after: 1/240 of its cost a month, none before it is built
    assert shells.month() == pytest.approx((0.0, 100_000.0 / 240))


def test_construction_in_progress_is_what_has_been_paid_and_the_rest_is_committed():
    shells = Shells(cost_usd_per_kw=1000.0, build_months=4, life_months=240)
    shells.start(40.0)
    shells.month()
    shells.start(80.0)
    shells.month()
    # 40 kW have paid 2 of 4 instalments, 80 kW 1 of 4
    assert shells.in_progress == pytest.approx(40_000 / 2 + 80_000 / 4)
    assert shells.in_progress + shells.commitments() == pytest.approx(120_000.0)
    assert shells.assets == pytest.approx(shells.in_progress)


def test_month_zero_shells_are_depreciated_by_age_and_part_paid_by_progress():
    shells = Shells(cost_usd_per_kw=1000.0, build_months=3, life_months=100)
    shells.open(np.array([10.0, 20.0]), np.array([50.0, 0.0]), np.array([3.0, 6.0, 9.0]))
    assert shells.kw == 30.0 and shells.gross == 30_000.0
    assert shells.book == pytest.approx(10_000 * 0.5 + 20_000)
    # due next month: 3 kW with 2 of 3 instalments paid; then 6 kW with 1; 9 kW with none
    assert shells.in_progress == pytest.approx(1000 * (3 * 2 + 6 * 1) / 3)
    assert shells.in_progress + shells.commitments() == pytest.approx(18_000.0)


def test_gpus_bought_at_once_get_a_shell_bought_built():
    shells = Shells(cost_usd_per_kw=1000.0, build_months=18, life_months=240)
    assert shells.build_at_once(5.0) == 5000.0
    assert (shells.kw, shells.book, shells.gross) == (5.0, 5000.0, 5000.0)


@pytest.fixture(scope="module")
def glut_run() -> AIMarketModel:
    """The pinned glut of the counterfactual tests: an open 100x that users absorb slowly
    (capability share 0.6, seed 1)."""
    model = AIMarketModel("sudden-100x", rng=1, overrides={"labs.capability_share": 0.6})
    model.run_model()
    return model


def test_shells_are_built_ahead_of_the_fleet_and_outlast_its_glut(glut_run):
    frame = glut_run.model_frame()
    built = frame["shells_gw"]
    # every GPU sits in a shell, and shells are never torn down
    assert (frame["fleet_power_gw"] <= built * (1 + 1e-9)).all()
    assert (built.diff().iloc[1:] >= -1e-12).all()
    # the build-out starts shells ahead: at month 0 more is being built than stands
    assert frame["shells_building_gw"].iloc[0] > built.iloc[0]
    # a glut empties shells; they stay on the books, depreciating over decades
    empty = 1 - frame["fleet_power_gw"] / built
    assert frame["glut"].any() and empty[frame["glut"].astype(bool)].max() > 0.2
    summary = glut_run.summary()  # what survives the glut, in the run's summary
    assert summary["peak_empty_shell_share"] == pytest.approx(empty.max())
    assert summary["final_shells_gw"] == pytest.approx(built.iloc[-1])
    assert frame["shell_book_value_usd"].iloc[-1] > 0.5 * frame["shell_book_value_usd"].max()


def test_shells_are_part_of_capex_and_of_the_capital_the_builders_earn_a_return_on(glut_run):
    frame = glut_run.model_frame()
    share = frame["shell_capex_usd"].iloc[1:13].sum() / frame["capex_usd"].iloc[1:13].sum()
    assert 0.1 < share < 0.5, share  # 2024: shells are a part of capex, GPUs the larger one
    invested = sum(hs.invested for hs in glut_run.hyperscalers)
    book = sum(hs.book_value for hs in glut_run.hyperscalers)
    assert invested == pytest.approx(book + frame["shell_book_value_usd"].iloc[-1])
